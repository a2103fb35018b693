import { expect } from 'chai';
import sinon from 'sinon';
import { TRANSLOGGER_FIELDS, transLogger, type TransLoggerOptions } from '../middleware/index.js';
import { InvalidOptionError } from '../src/errors.js';
import type { App, Environ, StartResponse } from '../src/types.js';
import { send, startServer } from './helpers/http.js';

const app: App = (_environ, startResponse) => {
  startResponse('201 Created', [['Content-Type', 'text/plain'], ['Content-Length', '2']]);
  return [Buffer.from('ok')];
};

function environ(extra: Record<string, unknown> = {}): Environ {
  return {
    REQUEST_METHOD: 'GET', SCRIPT_NAME: '/mount', PATH_INFO: '/caf\xe9 x', QUERY_STRING: 'q=1', SERVER_PROTOCOL: 'HTTP/1.1',
    REMOTE_ADDR: '203.0.113.9', HTTP_USER_AGENT: 'curl/8', HTTP_X_FORWARDED_FOR: '6.6.6.6', ...extra,
  } as unknown as Environ;
}

function run(wrapped: App, env: Environ): void {
  const start: StartResponse = () => () => undefined;
  void wrapped(env, start);
}

describe('transLogger (Paste TransLogger)', () => {
  const WHEN = new Date(Date.UTC(2024, 9, 5, 13, 5, 9));
  let clock: sinon.SinonFakeTimers;
  let savedTz: string | undefined;
  beforeEach(() => {
    savedTz = process.env.TZ;
    process.env.TZ = 'UTC';
    clock = sinon.useFakeTimers({ now: WHEN.getTime(), toFake: ['Date'] });
  });
  afterEach(() => {
    clock.restore();
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  it('logs Apache combined when start_response is called: REMOTE_ADDR (never X-Forwarded-For), the path encoded byte by byte', () => {
    const lines: string[] = [];
    run(transLogger(app, { logger: (line) => lines.push(line) }), environ());
    expect(lines).to.deep.equal([
      '203.0.113.9 - - [05/Oct/2024:13:05:09 +0000] "GET /mount/caf%E9%20x?q=1 HTTP/1.1" 201 2 "-" "curl/8"',
    ]);
  });

  it('logs the request as it came to the filter, not as the app rewrote it; a Content-Length that is not digits is "-"', () => {
    const lines: string[] = [];
    const rewriting: App = (env, startResponse) => {
      Object.assign(env, { REQUEST_METHOD: 'GET', PATH_INFO: '/internal', QUERY_STRING: '', REMOTE_ADDR: '6.6.6.6' });
      startResponse('200 OK', [['Content-Length', '0 "-" "evil"']]);
      return [];
    };
    run(transLogger(rewriting, { logger: (line) => lines.push(line), format: '%(REMOTE_ADDR)s %(REQUEST_METHOD)s %(REQUEST_URI)s %(bytes)s' }), environ({ REQUEST_METHOD: 'POST' }));
    expect(lines).to.deep.equal(['203.0.113.9 POST /mount/caf%E9%20x?q=1 -']);
  });

  it('takes a Paste format, and a Logger', () => {
    const info = sinon.spy();
    const logger = { debug() {}, info, warn() {}, error() {} };
    run(transLogger(app, { logger, format: '%(status)s %(bytes)s %(REMOTE_USER)s 100%%' }), environ({ REMOTE_USER: 'ann' }));
    expect(info.args).to.deep.equal([['201 2 ann 100%']]);
    expect(TRANSLOGGER_FIELDS).to.include('HTTP_VERSION');
  });

  it('refuses an unknown field or a bare % in the format when it is built', () => {
    expect(() => transLogger(app, { format: '%(host)s' })).to.throw(InvalidOptionError, /has "%\(host\)s"/);
    expect(() => transLogger(app, { format: '50% off' })).to.throw(InvalidOptionError, /has "% "/);
  });

  it('refuses options of the wrong type or unknown ones when it is built, naming them', () => {
    const bad: [unknown, string][] = [
      [{ format: 5 }, 'format'],
      [{ logger: 5 }, 'logger'],
      [{ logger: { warn() {} } }, 'logger'],
      [{ loger: () => undefined }, 'loger'],
      [null, 'options'],
    ];
    for (const [options, option] of bad) {
      expect(() => transLogger(app, options as TransLoggerOptions), JSON.stringify(options)).to.throw(InvalidOptionError).with.property('option', option);
    }
  });

  it('logs text above U+00FF in SCRIPT_NAME or PATH_INFO as its UTF-8 bytes', () => {
    const lines: string[] = [];
    run(transLogger(app, { logger: (line) => lines.push(line), format: '%(REQUEST_URI)s' }), environ({ SCRIPT_NAME: '/\u20ac', PATH_INFO: '/\u{1F600}', QUERY_STRING: '' }));
    expect(lines).to.deep.equal(['/%E2%82%AC/%F0%9F%98%80']);
    // A lone surrogate (no UTF-8 of its own) is U+FFFD's bytes, and the character after it is kept.
    run(transLogger(app, { logger: (line) => lines.push(line), format: '%(REQUEST_URI)s' }), environ({ SCRIPT_NAME: '', PATH_INFO: '/\ud800a/\udc00b', QUERY_STRING: '' }));
    expect(lines[1]).to.equal('/%EF%BF%BDa/%EF%BF%BDb');
    // A long path of bytes to encode is logged up to what a field keeps, and says how much is left out.
    run(transLogger(app, { logger: (line) => lines.push(line), format: '%(REQUEST_URI)s' }), environ({ SCRIPT_NAME: '', PATH_INFO: `/${'!'.repeat(20_000)}`, QUERY_STRING: '' }));
    // 1 + 60,000 chars quoted, 8,192 kept: the count is of the quoted text left out.
    expect(lines[2]).to.equal(`/${'%21'.repeat(2730)}%...(51809 more)`);
  });

  it('escapes client text, so a request cannot write a line of its own', () => {
    const lines: string[] = [];
    run(transLogger(app, { logger: (line) => lines.push(line) }), environ({ HTTP_USER_AGENT: 'x"\n1.2.3.4 - - [', HTTP_REFERER: 'a\\b' }));
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include('"a\\\\b" "x\\"\\x0a1.2.3.4 - - ["');
  });

  it('logs "-" for bytes without a Content-Length, and still answers when its logger throws', () => {
    const lines: string[] = [];
    const noLength: App = (_e, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      return [];
    };
    run(transLogger(noLength, { logger: (line) => lines.push(line), format: '%(status)s %(bytes)s' }), environ());
    expect(lines).to.deep.equal(['200 -']);
    const statuses: string[] = [];
    const broken = transLogger(app, { logger: () => { throw new Error('log down'); } });
    broken(environ(), (status) => {
      statuses.push(status as string);
      return () => undefined;
    });
    expect(statuses).to.deep.equal(['201 Created']);
  });

  it('serves through garcon: one line per response, REMOTE_ADDR as garcon set it', async () => {
    clock.restore();
    const lines: string[] = [];
    const running = await startServer(transLogger(app, { logger: (line) => lines.push(line) }));
    try {
      const exchange = await send(running.port, 'GET /a%20b?z=2 HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: close\r\n\r\n');
      expect(exchange.responses[0]?.status).to.equal(201);
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(/^127\.0\.0\.1 - - \[.*\] "GET \/a%20b\?z=2 HTTP\/1\.1" 201 2 "-" "-"$/);
    } finally {
      await running.close();
    }
  });
});
