import * as net from 'node:net';
import { expect } from 'chai';
import sinon from 'sinon';
import {
  OPTIONS,
  castOption,
  findOption,
  formatServingUrl,
  makeAdjustments,
  resolveListen,
  type OptionSpec,
} from '../src/adjustments.js';
import { InvalidOptionError } from '../src/errors.js';
import type { Logger } from '../src/types.js';

function quietLogger(): Logger & { info: sinon.SinonSpy; warn: sinon.SinonSpy } {
  return { debug: sinon.spy(), info: sinon.spy(), warn: sinon.spy(), error: sinon.spy() };
}

/** makeAdjustments with a silent logger, so warnings do not reach stderr. */
function adjust(options: Record<string, unknown> = {}) {
  return makeAdjustments({ logger: quietLogger(), ...options });
}

function expectInvalid(options: Record<string, unknown>, option: string, message: string | RegExp): void {
  let caught: unknown;
  try {
    adjust(options);
  } catch (err) {
    caught = err;
  }
  expect(caught, 'an InvalidOptionError').to.be.instanceOf(InvalidOptionError);
  const err = caught as InvalidOptionError;
  expect(err.option).to.equal(option);
  expect(err.code).to.equal('GARCON_ERR_INVALID_OPTION');
  if (typeof message === 'string') expect(err.message).to.equal(message);
  else expect(err.message).to.match(message);
}

function spec(name: string): OptionSpec {
  const found = findOption(name);
  if (!found) throw new Error(`no option ${name}`);
  return found;
}

describe('adjustments', () => {
  describe('the options table', () => {
    it('derives snake_case keys and --kebab-case flags from the camelCase name', () => {
      expect(spec('maxRequestBodySize')).to.include({ snake: 'max_request_body_size', flag: '--max-request-body-size' });
      expect(spec('ipv6')).to.include({ snake: 'ipv6', flag: '--ipv6' });
      expect(spec('logger').flag).to.equal(null);
    });

    it('has unique names, keys and flags, and help for every row', () => {
      const names = OPTIONS.map((o) => o.name);
      expect(new Set(names).size).to.equal(names.length);
      expect(new Set(OPTIONS.map((o) => o.snake)).size).to.equal(names.length);
      for (const o of OPTIONS) expect(o.help, o.name).to.match(/\S.{10,}/);
    });

    it('covers every field of Adjustments', () => {
      const adj = adjust();
      const fields = Object.keys(adj).filter((k) => k !== 'explicit');
      expect(fields.sort()).to.deep.equal(OPTIONS.map((o) => o.name).sort());
    });
  });

  describe('defaults', () => {
    it('matches Waitress except where garcon decided otherwise', () => {
      const adj = adjust();
      expect(adj).to.deep.include({
        listen: ['0.0.0.0:8080'],
        host: '0.0.0.0',
        port: 8080,
        ipv4: true,
        ipv6: true,
        serverName: 'localhost',
        threads: 4,
        trustedProxy: null,
        trustedProxyCount: 1,
        logUntrustedProxyHeaders: false,
        clearUntrustedProxyHeaders: true,
        urlScheme: 'http',
        urlPrefix: '',
        backlog: 1024,
        recvBytes: 8192,
        sendBytes: 1,
        outbufOverflow: 1048576,
        outbufHighWatermark: 16777216,
        inbufOverflow: 524288,
        connectionLimit: 100,
        cleanupInterval: 30,
        channelTimeout: 120,
        logSocketErrors: true,
        maxRequestHeaderSize: 262144,
        maxRequestHeaderFields: 1000,
        maxRequestBodySize: 1073741824,
        exposeTracebacks: false,
        ident: 'garcon',
        asyncoreLoopTimeout: 1,
        asyncoreUsePoll: false,
        unixSocket: null,
        unixSocketPerms: 0o600,
        channelRequestLookahead: 0,
        workers: 1,
        shutdownTimeout: 30,
        accessLog: false,
        accessLogFormat: 'combined',
        logLevel: 'warn',
      });
      expect([...adj.trustedProxyHeaders]).to.deep.equal([]);
      expect(adj.sockets).to.deep.equal([]);
    });

    it('records only the options actually passed (undefined is not passed)', () => {
      const adj = adjust({ threads: 2, port: undefined });
      expect([...adj.explicit].sort()).to.deep.equal(['logger', 'threads']);
    });

    it('is frozen', () => {
      const adj = adjust();
      expect(Object.isFrozen(adj)).to.equal(true);
      expect(Object.isFrozen(adj.listen)).to.equal(true);
    });

    it('builds a default stderr logger at logLevel when no logger is given', () => {
      const write = sinon.stub(process.stderr, 'write').returns(true);
      try {
        const adj = makeAdjustments({ logLevel: 'error' });
        adj.logger.warn('dropped');
        adj.logger.error('kept');
      } finally {
        write.restore();
      }
      expect(write.callCount).to.equal(1);
      expect(String(write.firstCall.args[0])).to.equal('ERROR:garcon:kept\n');
    });
  });

  describe('int options', () => {
    it('accept numbers and Python int() text: whitespace, sign, _ separators', () => {
      expect(adjust({ threads: 8 }).threads).to.equal(8);
      expect(adjust({ threads: ' 12 ' }).threads).to.equal(12);
      expect(adjust({ threads: '+3' }).threads).to.equal(3);
      expect(adjust({ maxRequestBodySize: '1_000_000' }).maxRequestBodySize).to.equal(1000000);
    });

    for (const bad of ['abc', '1.5', '', '1__0', '_1', '0x10', '1e3', '- 1']) {
      it(`reject the text ${JSON.stringify(bad)}`, () => {
        expectInvalid({ threads: bad }, 'threads', `Invalid value for option "threads": ${JSON.stringify(bad)} is not an integer`);
      });
    }

    it('reject non-integral, unsafe and non-numeric values', () => {
      expectInvalid({ backlog: 1.5 }, 'backlog', 'Invalid value for option "backlog": 1.5 is not an integer');
      expectInvalid({ backlog: NaN }, 'backlog', /NaN is not an integer/);
      expectInvalid({ backlog: 2 ** 60 }, 'backlog', /is not an integer/);
      expectInvalid({ backlog: true }, 'backlog', 'Invalid value for option "backlog": true is not an integer');
      expectInvalid({ backlog: null }, 'backlog', /null is not an integer/);
      expectInvalid({ backlog: [1] }, 'backlog', /an array is not an integer/);
      // Node takes a 32-bit backlog: 2 ** 32 would silently become 0.
      expectInvalid({ backlog: '4294967296' }, 'backlog', 'Invalid value for option "backlog": "4294967296" must be at most 2147483647');
      expect(adjust({ backlog: 2 ** 31 - 1 }).backlog).to.equal(2 ** 31 - 1);
    });

    it('require sizes and counts to be positive (threads <= 0 is an error, unlike Waitress)', () => {
      expectInvalid({ threads: 0 }, 'threads', 'Invalid value for option "threads": 0 must be at least 1');
      expectInvalid({ threads: '-2' }, 'threads', 'Invalid value for option "threads": "-2" must be at least 1');
      for (const name of ['backlog', 'recvBytes', 'sendBytes', 'outbufOverflow', 'outbufHighWatermark', 'inbufOverflow',
        'connectionLimit', 'maxRequestHeaderSize', 'maxRequestBodySize', 'workers']) {
        expectInvalid({ [name]: 0 }, name, `Invalid value for option "${name}": 0 must be at least 1`);
      }
    });

    it('allow 0 where it means something: port (ephemeral) and channelRequestLookahead', () => {
      expect(adjust({ port: 0 }).port).to.equal(0);
      expect(adjust({ channelRequestLookahead: '0' }).channelRequestLookahead).to.equal(0);
      expectInvalid({ channelRequestLookahead: -1 }, 'channelRequestLookahead', /-1 must be at least 0/);
      expectInvalid({ port: 65536 }, 'port', 'Invalid value for option "port": 65536 must be at most 65535');
    });

    it('trustedProxyCount must be at least 1', () => {
      expectInvalid({ trustedProxy: '10.0.0.1', trustedProxyCount: 0 }, 'trustedProxyCount', /0 must be at least 1/);
    });
  });

  describe('seconds options', () => {
    it('accept fractional numbers and decimal text', () => {
      expect(adjust({ channelTimeout: 0.5 }).channelTimeout).to.equal(0.5);
      expect(adjust({ channelTimeout: ' 2.5 ' }).channelTimeout).to.equal(2.5);
      expect(adjust({ cleanupInterval: '.25' }).cleanupInterval).to.equal(0.25);
      expect(adjust({ shutdownTimeout: '10' }).shutdownTimeout).to.equal(10);
      expect(adjust({ asyncoreLoopTimeout: 3 }).asyncoreLoopTimeout).to.equal(3);
    });

    it('must be greater than 0 and finite', () => {
      expectInvalid({ channelTimeout: 0 }, 'channelTimeout', 'Invalid value for option "channelTimeout": 0 must be greater than 0');
      expectInvalid({ shutdownTimeout: '-1' }, 'shutdownTimeout', /"-1" must be greater than 0/);
      expectInvalid({ cleanupInterval: Infinity }, 'cleanupInterval', /Infinity is not a number/);
      expectInvalid({ channelTimeout: 'soon' }, 'channelTimeout', 'Invalid value for option "channelTimeout": "soon" is not a number');
      expectInvalid({ channelTimeout: '1e3' }, 'channelTimeout', /is not a number/);
    });

    it('that become timers stop where Node\'s timers do (2^31 - 1 ms), not fire after 1 ms past it', () => {
      expect(adjust({ shutdownTimeout: 2147483, cleanupInterval: '2147483' })).to.include({ shutdownTimeout: 2147483, cleanupInterval: 2147483 });
      expectInvalid({ shutdownTimeout: 2592000 }, 'shutdownTimeout', /2592000 must be at most 2147483/);
      expectInvalid({ cleanupInterval: '2592000' }, 'cleanupInterval', /"2592000" must be at most 2147483/);
      expect(adjust({ channelTimeout: 2592000 }).channelTimeout).to.equal(2592000); // compared, never a timer
    });
  });

  describe('bool options', () => {
    const yes = ['t', 'true', 'y', 'yes', 'on', '1', ' TRUE ', 'Yes'];
    const no = ['f', 'false', 'n', 'no', 'off', '0', '', 'OFF'];
    it('accept booleans and the switch words', () => {
      for (const word of yes) expect(adjust({ exposeTracebacks: word }).exposeTracebacks, word).to.equal(true);
      for (const word of no) expect(adjust({ logSocketErrors: word }).logSocketErrors, word).to.equal(false);
      expect(adjust({ asyncoreUsePoll: true }).asyncoreUsePoll).to.equal(true);
      // The numbers 1 and 0, as Waitress's asbool() takes them.
      expect(adjust({ exposeTracebacks: 1 }).exposeTracebacks).to.equal(true);
      expect(adjust({ clearUntrustedProxyHeaders: 0 }).clearUntrustedProxyHeaders).to.equal(false);
      expect(adjust({ clearUntrustedProxyHeaders: false }).clearUntrustedProxyHeaders).to.equal(false);
    });

    it('reject any other word (stricter than Waitress, where it silently means false)', () => {
      expectInvalid(
        { exposeTracebacks: 'garbage' },
        'exposeTracebacks',
        'Invalid value for option "exposeTracebacks": "garbage" is not a boolean (use true/false, yes/no, on/off or 1/0)',
      );
      expectInvalid({ ipv4: 2 }, 'ipv4', /2 is not a boolean/);
      expectInvalid({ ipv4: null }, 'ipv4', /null is not a boolean/);
    });

    it('refuse to turn both address families off', () => {
      expectInvalid({ ipv4: false, ipv6: 'no' }, 'ipv4', 'Options "ipv4" and "ipv6" may not both be false');
    });
  });

  describe('string options', () => {
    it('keep strings as given', () => {
      const adj = adjust({ serverName: 'example.com' });
      expect(adj.serverName).to.equal('example.com');
    });

    it('reject non-strings', () => {
      expectInvalid({ serverName: 42 }, 'serverName', 'Invalid value for option "serverName": 42 is not a string');
      expectInvalid({ urlScheme: {} }, 'urlScheme', /an object is not a string/);
    });

    it('turn an empty or null ident into null (no Server header)', () => {
      expect(adjust({ ident: '' }).ident).to.equal(null);
      expect(adjust({ ident: null }).ident).to.equal(null);
      expect(adjust({ ident: 'myserver' }).ident).to.equal('myserver');
    });

    it('turn an empty trustedProxy into null (an empty unixSocket is refused: see listening)', () => {
      expect(adjust({ trustedProxy: '' }).trustedProxy).to.equal(null);
      expect(adjust({ trustedProxy: [] }).trustedProxy).to.equal(null);
    });

    it('take trustedProxy as a list too (contract decision 7: natural types)', () => {
      expect(adjust({ trustedProxy: ['127.0.0.1', '10.0.0.0/8'] }).trustedProxy).to.equal('127.0.0.1,10.0.0.0/8');
      expectInvalid({ trustedProxy: ['10.0.0.300'] }, 'trustedProxy', /10\.0\.0\.300/);
      expectInvalid({ trustedProxy: [1] }, 'trustedProxy', /is not a string or a list of strings/);
    });

    it('refuse a trustedProxy with a zone ID (it would be dropped, trusting the address on every link) or a /0 range', () => {
      expectInvalid({ trustedProxy: 'fe80::1%eth0' }, 'trustedProxy', /"fe80::1%eth0" has a zone ID, which cannot be matched/);
      expectInvalid({ trustedProxy: '10.0.0.1, ::1%lo' }, 'trustedProxy', /"::1%lo" has a zone ID/);
      expectInvalid({ trustedProxy: '0.0.0.0/0' }, 'trustedProxy', /"0.0.0.0\/0" is every address: say "\*" to trust every peer/);
      expectInvalid({ trustedProxy: '::/0' }, 'trustedProxy', /"::\/0" is every address/);
      expect(adjust({ trustedProxy: '0.0.0.0/1' }).trustedProxy).to.equal('0.0.0.0/1');
    });
  });

  describe('urlPrefix', () => {
    const cases: [string, string][] = [
      ['', ''],
      ['   ', ''],
      ['/', ''],
      ['///', ''],
      ['foo', '/foo'],
      ['///foo/', '/foo'],
      ['a/b/', '/a/b'],
      [' /x ', '/x'],
      // In PATH_INFO's form: percent-decoded, non-ASCII as its UTF-8 bytes, one char per byte.
      ['/a%20b', '/a b'],
      ['/caf\u00e9', '/caf\u00c3\u00a9'],
      ['/caf%C3%A9', '/caf\u00c3\u00a9'],
    ];
    for (const [given, expected] of cases) {
      it(`normalises ${JSON.stringify(given)} to ${JSON.stringify(expected)}`, () => {
        expect(adjust({ urlPrefix: given }).urlPrefix).to.equal(expected);
      });
    }
    it('rejects non-strings', () => {
      expectInvalid({ urlPrefix: 5 }, 'urlPrefix', /5 is not a string/);
    });
  });

  describe('unixSocketPerms', () => {
    it('reads text as octal and accepts numbers', () => {
      expect(adjust({ unixSocketPerms: '660' }).unixSocketPerms).to.equal(0o660);
      expect(adjust({ unixSocketPerms: ' 0777 ' }).unixSocketPerms).to.equal(0o777);
      // Waitress reads it with Python's int(text, 8): a 0o prefix and _ between digits too.
      expect(adjust({ unixSocketPerms: '0o660' }).unixSocketPerms).to.equal(0o660);
      expect(adjust({ unixSocketPerms: '6_60' }).unixSocketPerms).to.equal(0o660);
      expectInvalid({ unixSocketPerms: '0o' }, 'unixSocketPerms', /is not an octal number/);
      expectInvalid({ unixSocketPerms: '6__60' }, 'unixSocketPerms', /is not an octal number/);
      expect(adjust({ unixSocketPerms: 0o644 }).unixSocketPerms).to.equal(0o644);
    });

    it('rejects non-octal text and out-of-range values', () => {
      expectInvalid({ unixSocketPerms: '689' }, 'unixSocketPerms', 'Invalid value for option "unixSocketPerms": "689" is not an octal number such as "660"');
      expectInvalid({ unixSocketPerms: '1777' }, 'unixSocketPerms', /must be at most 777/);
      expectInvalid({ unixSocketPerms: -1 }, 'unixSocketPerms', /must be at least 0/);
      expectInvalid({ unixSocketPerms: 1.5 }, 'unixSocketPerms', /is not an integer/);
      // Octal digits in a number are a decimal mode: say how to write what was meant.
      expectInvalid({ unixSocketPerms: 660 }, 'unixSocketPerms',
        'Invalid value for option "unixSocketPerms": 660 must be at most 0o777 (511); write the octal digits as a string ("660") or as 0o660');
    });
  });

  describe('enum options', () => {
    it('accept the choices case-insensitively, with Python level names', () => {
      expect(adjust({ accessLogFormat: 'JSON' }).accessLogFormat).to.equal('json');
      expect(adjust({ logLevel: 'INFO' }).logLevel).to.equal('info');
      expect(adjust({ logLevel: 'WARNING' }).logLevel).to.equal('warn');
      expect(adjust({ logLevel: 'critical' }).logLevel).to.equal('error');
      expect(adjust({ urlScheme: 'HTTPS' }).urlScheme).to.equal('https');
    });

    it('reject anything else', () => {
      expectInvalid({ accessLogFormat: 'common' }, 'accessLogFormat', 'Invalid value for option "accessLogFormat": "common" is not one of combined, json');
      expectInvalid({ logLevel: 'loud' }, 'logLevel', /is not one of debug, info, warn, error, silent/);
      // wsgi.url_scheme is http or https (PEP 3333); a proxy's scheme is held to the same two.
      for (const scheme of ['ftp', 'ws', '']) expectInvalid({ urlScheme: scheme }, 'urlScheme', /is not one of http, https/);
    });
  });

  it('refuses options that are not an object, saying so', () => {
    for (const [options, shown] of [[null, 'null'], ['listen', '"listen"'], [['a'], 'an array']] as const) {
      expect(() => makeAdjustments(options as never))
        .to.throw(InvalidOptionError, `The options must be an object such as { listen: '127.0.0.1:8080' }, got ${shown}`);
    }
  });

  describe('accessLog', () => {
    it('is a switch or a file path', () => {
      expect(adjust({ accessLog: true }).accessLog).to.equal(true);
      expect(adjust({ accessLog: 'on' }).accessLog).to.equal(true);
      expect(adjust({ accessLog: 'false' }).accessLog).to.equal(false);
      expect(adjust({ accessLog: '/var/log/garcon.log' }).accessLog).to.equal('/var/log/garcon.log');
      // '-' is stdout, as for gunicorn: not a file named '-' in the working directory.
      expect(adjust({ accessLog: '-' }).accessLog).to.equal(true);
    });

    it('rejects other types', () => {
      expectInvalid({ accessLog: 1 }, 'accessLog', /1 is not a string/);
    });

    it('refuses an empty value (an unset variable), which would turn the log off unnoticed', () => {
      expectInvalid({ accessLog: ' ' }, 'accessLog', 'Invalid value for option "accessLog": " " is empty (give a file, "on" for stdout, or "off")');
    });
  });

  describe('logger', () => {
    it('takes any object with the four methods, and warnings go to it', () => {
      const logger = quietLogger();
      const adj = makeAdjustments({ logger, sendBytes: 10 });
      adj.logger.info('through', 1);
      expect(logger.info.calledOnceWith('through', 1)).to.equal(true);
      expect(adj.sendBytes).to.equal(10);
      expect(logger.warn.calledOnceWith('Option "sendBytes" is deprecated and has no effect; it will be removed.')).to.equal(true);
    });

    it('is guarded: a logger that throws is reported on stderr, never thrown into the server', () => {
      const logger = { ...quietLogger(), error: sinon.stub().throws(new Error('sink closed')) };
      const stderr = sinon.stub(process.stderr, 'write').returns(true);
      try {
        expect(() => makeAdjustments({ logger }).logger.error('Exception while serving /x', new Error('boom'))).not.to.throw();
      } finally {
        stderr.restore();
      }
      expect(String(stderr.firstCall.args[0])).to.match(/^ERROR:garcon:the logger's error\(\) failed: Error: sink closed[\s\S]*the message was: Exception while serving \/x/);
    });

    it('rejects objects missing a method', () => {
      expectInvalid({ logger: { info() {}, warn() {}, error() {} } }, 'logger', 'Invalid value for option "logger": an object is not a logger (an object with debug, info, warn and error methods)');
      expectInvalid({ logger: 'pino' }, 'logger', /"pino" is not a logger/);
    });
  });

  describe('sockets', () => {
    it('takes servers, sockets, {fd} objects and fd numbers (also as text)', () => {
      const server = new net.Server();
      const adj = adjust({ sockets: [server, { fd: 3 }, 4, '5'] });
      expect(adj.sockets).to.deep.equal([server, { fd: 3 }, { fd: 4 }, { fd: 5 }]);
      expect(adjust({ sockets: '3 4,5' }).sockets).to.deep.equal([{ fd: 3 }, { fd: 4 }, { fd: 5 }]);
      expect(adjust({ sockets: server }).sockets).to.deep.equal([server]);
    });

    it('empties listen: the sockets replace TCP listening', () => {
      expect(adjust({ sockets: [3] }).listen).to.deep.equal([]);
    });

    it('rejects anything else (Waitress drops non-sockets silently)', () => {
      expectInvalid({ sockets: [{}] }, 'sockets', 'Invalid value for option "sockets": an object is not a net.Server, a net.Socket or a file descriptor');
      expectInvalid({ sockets: ['x'] }, 'sockets', /"x" is not an integer/);
      expectInvalid({ sockets: [{ fd: -1 }] }, 'sockets', /-1 must be at least 0/);
    });
  });

  describe('listen, host and port', () => {
    it('splits text on whitespace and newlines and takes arrays', () => {
      expect(adjust({ listen: ' 127.0.0.1:1 \n\n [::1]:2\t*:3 ' }).listen).to.deep.equal(['127.0.0.1:1', '[::1]:2', '*:3']);
      expect(adjust({ listen: ['127.0.0.1:1 127.0.0.1:2', 'localhost:3'] }).listen).to.deep.equal(['127.0.0.1:1', '127.0.0.1:2', 'localhost:3']);
    });

    it('does not split on commas (as Waitress)', () => {
      expectInvalid(
        { listen: '127.0.0.1:1,127.0.0.1:2' },
        'listen',
        'Invalid host/port specified: "127.0.0.1:1,127.0.0.1:2" ("127.0.0.1:1,127.0.0.1" is not a host name or an IP address)',
      );
    });

    it('folds host and port into listen when either is given (even with the default value)', () => {
      expect(adjust({ port: 8081 }).listen).to.deep.equal(['0.0.0.0:8081']);
      expect(adjust({ host: '127.0.0.1' }).listen).to.deep.equal(['127.0.0.1:8080']);
      expect(adjust({ host: '::1', port: '9000' }).listen).to.deep.equal(['::1:9000']);
      expect(adjust({ port: 8080 }).explicit.has('port')).to.equal(true);
    });

    it('rejects bad entries with the entry in the message', () => {
      expectInvalid({ listen: 'localhost:foo' }, 'listen', 'Invalid host/port specified: "localhost:foo" (port "foo" is not a number or a known service name)');
      expectInvalid({ listen: '127.0.0.1:70000' }, 'listen', 'Invalid host/port specified: "127.0.0.1:70000" (port 70000 is above 65535)');
      expectInvalid({ listen: '127.0.0.1:' }, 'listen', /port "" is not a number/);
      expectInvalid({ listen: '[::1:80' }, 'listen', /unbalanced brackets/);
      expectInvalid({ listen: 'a b:80\nhost/x:80' }, 'listen', 'Invalid host/port specified: "host/x:80" ("host/x" is not a host name or an IP address)');
      expectInvalid({ listen: '1.2.3.4:5:80' }, 'listen', /"1.2.3.4:5" is not a host name or an IP address/);
      expectInvalid({ listen: '' }, 'listen', 'Option "listen" names no host:port');
      expectInvalid({ listen: [1] }, 'listen', 'Invalid value for option "listen": an array is not a string or a list of strings');
    });
  });

  describe('conflicts (Waitress 1.4)', () => {
    it('listen with host or port', () => {
      const message = 'Options "host" and "port" may not be set together with "listen"';
      expectInvalid({ listen: '127.0.0.1:1', host: '127.0.0.1' }, 'listen', message);
      expectInvalid({ listen: '127.0.0.1:1', port: 2 }, 'listen', message);
    });

    it('listen with sockets', () => {
      expectInvalid({ listen: '127.0.0.1:1', sockets: [3] }, 'sockets', 'Option "sockets" may not be set together with "listen"');
    });

    it('sockets with host or port', () => {
      expectInvalid({ sockets: [3], port: 1 }, 'sockets', 'Options "host" and "port" may not be set together with "sockets"');
    });

    it('unixSocket with host, port, listen or sockets', () => {
      for (const [other, value] of [['host', 'x'], ['port', 1], ['listen', 'a:1'], ['sockets', [3]]] as const) {
        const options: Record<string, unknown> = { unixSocket: '/tmp/x.sock', [other]: value };
        // listen + sockets would trip their own rule first; each case has only one other option.
        expectInvalid(options, 'unixSocket', `Option "unixSocket" may not be set together with "${other}"`);
      }
    });

    it('unixSocket alone empties listen', () => {
      const adj = adjust({ unixSocket: '/tmp/x.sock', unixSocketPerms: '660' });
      expect(adj.listen).to.deep.equal([]);
      expect(adj.unixSocketPerms).to.equal(0o660);
    });

    it('unknown names, with a hint for snake_case spellings', () => {
      expectInvalid({ foo: 1 }, 'foo', 'Unknown option "foo"');
      expectInvalid({ max_request_body_size: 1 }, 'max_request_body_size', 'Unknown option "max_request_body_size" (did you mean "maxRequestBodySize"?)');
    });
  });

  describe('proxy options', () => {
    it('accept header lists as arrays or space/comma separated text, any case', () => {
      const adj = adjust({ trustedProxy: '10.0.0.1', trustedProxyHeaders: 'X-Forwarded-For, x-forwarded-proto\nx-forwarded-host' });
      expect([...adj.trustedProxyHeaders]).to.deep.equal(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);
      const fromArray = adjust({ trustedProxy: '*', trustedProxyHeaders: ['forwarded'] });
      expect([...fromArray.trustedProxyHeaders]).to.deep.equal(['forwarded']);
      const fromSet = adjust({ trustedProxy: '*', trustedProxyHeaders: new Set(['x-forwarded-port']) });
      expect([...fromSet.trustedProxyHeaders]).to.deep.equal(['x-forwarded-port']);
    });

    it('reject an unknown header name', () => {
      expectInvalid(
        { trustedProxy: '*', trustedProxyHeaders: 'x-forwarded-for x-real-ip' },
        'trustedProxyHeaders',
        'Invalid value for option "trustedProxyHeaders": unknown header "x-real-ip"; expected one of ' +
          'x-forwarded-for, x-forwarded-host, x-forwarded-proto, x-forwarded-port, x-forwarded-by, forwarded',
      );
      expectInvalid({ trustedProxy: '*', trustedProxyHeaders: 7 }, 'trustedProxyHeaders', /7 is not a string or a list of strings/);
    });

    it('reject Forwarded together with X-Forwarded-*', () => {
      expectInvalid({ trustedProxy: '*', trustedProxyHeaders: 'forwarded x-forwarded-for' }, 'trustedProxyHeaders', /mutually exclusive/);
    });

    it('reject headers or a count without trustedProxy', () => {
      expectInvalid({ trustedProxyHeaders: 'x-forwarded-for' }, 'trustedProxyHeaders', 'Option "trustedProxyHeaders" has no meaning without setting "trustedProxy"');
      expectInvalid({ trustedProxyCount: 2 }, 'trustedProxyCount', 'Option "trustedProxyCount" has no meaning without setting "trustedProxy"');
    });

    it('allow an empty header list without trustedProxy', () => {
      expect(adjust({ trustedProxyHeaders: '' }).trustedProxyHeaders.size).to.equal(0);
    });

    it('warn and trust X-Forwarded-Proto when trustedProxy comes without headers', () => {
      const logger = quietLogger();
      const adj = makeAdjustments({ logger, trustedProxy: '127.0.0.1' });
      expect([...adj.trustedProxyHeaders]).to.deep.equal(['x-forwarded-proto']);
      expect(logger.warn.calledOnce).to.equal(true);
      expect(String(logger.warn.firstCall.args[0])).to.match(/^No proxy headers were marked as trusted, but trustedProxy was set/);
    });

    it('keep trustedProxy as given after checking each element', () => {
      const value = '10.0.0.1, 192.168.0.0/16,::1,fe80::/10,loopback,linklocal,uniquelocal,unix,localhost,*';
      expect(adjust({ trustedProxy: value, trustedProxyHeaders: 'forwarded' }).trustedProxy).to.equal(value);
    });

    for (const bad of ['10.0.0', '1', '0x7f.1', '10.0.0.0/33', '10.0.0.0/', 'example.com', '::1/129', '10.0.0.1,']) {
      it(`reject the trustedProxy ${JSON.stringify(bad)}, naming the bad element`, () => {
        const element = bad.endsWith(',') ? '' : bad;
        expectInvalid(
          { trustedProxy: bad },
          'trustedProxy',
          `Invalid value for option "trustedProxy": ${JSON.stringify(element)} is not an IP address, a CIDR range, ` +
            'loopback, linklocal, uniquelocal, unix, localhost or "*"',
        );
      });
    }
  });

  describe('castOption', () => {
    it('casts a single value by its row', () => {
      expect(castOption(spec('port'), '80')).to.equal(80);
      expect(castOption(spec('listen'), 'a:1 b:2')).to.deep.equal(['a:1', 'b:2']);
    });
  });

  describe('resolveListen', () => {
    it('resolves numeric hosts, port 0 and bracketed IPv6', async () => {
      expect(await resolveListen(adjust({ listen: '127.0.0.1:0' }))).to.deep.equal([{ host: '127.0.0.1', port: 0, family: 4 }]);
      expect(await resolveListen(adjust({ listen: '[::1]:8080' }))).to.deep.equal([{ host: '::1', port: 8080, family: 6 }]);
      expect(await resolveListen(adjust({ listen: '[::1]' }))).to.deep.equal([{ host: '::1', port: 8080, family: 6 }]);
      expect(await resolveListen(adjust({ host: '::1', port: 81 }))).to.deep.equal([{ host: '::1', port: 81, family: 6 }]);
      expect(await resolveListen(adjust({ listen: '127.0.0.1' }))).to.deep.equal([{ host: '127.0.0.1', port: 8080, family: 4 }]);
    });

    it('expands * to both wildcards, filtered by ipv4/ipv6', async () => {
      expect(await resolveListen(adjust({ listen: '*:8080' }))).to.deep.equal([
        { host: '0.0.0.0', port: 8080, family: 4 },
        { host: '::', port: 8080, family: 6 },
      ]);
      expect(await resolveListen(adjust({ listen: '*:8080', ipv6: false }))).to.deep.equal([{ host: '0.0.0.0', port: 8080, family: 4 }]);
      expect(await resolveListen(adjust({ listen: '*:8080', ipv4: false }))).to.deep.equal([{ host: '::', port: 8080, family: 6 }]);
    });

    it('refuses an empty host, as Waitress does: an unset $HOST must not mean every address', () => {
      expectInvalid({ listen: ':8080' }, 'listen', 'Invalid host/port specified: ":8080" (the host is empty (write * to listen on every address))');
      expectInvalid({ host: '', port: 8080 }, 'listen', /the host is empty/);
    });

    it('refuses an empty unixSocket or sockets: an unset variable must not mean TCP on every address, or nothing', () => {
      expectInvalid({ unixSocket: '' }, 'unixSocket', /"" is empty \(leave the option out to listen on TCP\)/);
      expectInvalid({ unixSocket: '  ' }, 'unixSocket', /is empty/);
      expectInvalid({ sockets: '' }, 'sockets', 'Option "sockets" names no socket');
      expect(adjust({ unixSocket: null }).unixSocket).to.equal(null);
    });

    it('says octal limits in octal, and caps workers', () => {
      expectInvalid({ unixSocketPerms: '1777' }, 'unixSocketPerms', /"1777" must be at most 777$/);
      expectInvalid({ workers: 100000 }, 'workers', /must be at most 256$/);
      expectInvalid({ trustedProxy: '127.0.0.1', trustedProxyCount: 65 }, 'trustedProxyCount', /must be at most 64$/);
      expect(adjust({ workers: 256 }).workers).to.equal(256);
    });

    it('maps service names to ports', async () => {
      expect(await resolveListen(adjust({ listen: '0.0.0.0:http 0.0.0.0:https' }))).to.deep.equal([
        { host: '0.0.0.0', port: 80, family: 4 },
        { host: '0.0.0.0', port: 443, family: 4 },
      ]);
    });

    it('looks names up and de-duplicates, except port 0', async () => {
      const targets = await resolveListen(adjust({ listen: 'localhost:9000 127.0.0.1:9000 127.0.0.1:0 127.0.0.1:0' }));
      expect(targets.filter((t) => t.family === 4)).to.deep.equal([
        { host: '127.0.0.1', port: 9000, family: 4 },
        { host: '127.0.0.1', port: 0, family: 4 },
        { host: '127.0.0.1', port: 0, family: 4 },
      ]);
    });

    it('de-duplicates IPv6 addresses ignoring the zone', async () => {
      const lookup = sinon.stub().resolves([
        { address: 'fe80::1%eth0', family: 6 },
        { address: 'fe80::1%eth1', family: 6 },
      ]);
      expect(await resolveListen(adjust({ listen: 'router:80' }), lookup)).to.deep.equal([{ host: 'fe80::1%eth0', port: 80, family: 6 }]);
    });

    it('drops results of a disabled family and fails when none remain', async () => {
      const lookup = sinon.stub().resolves([{ address: '::1', family: 6 }]);
      let caught: unknown;
      try {
        await resolveListen(adjust({ listen: 'v6only:80', ipv6: false }), lookup);
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(InvalidOptionError);
      expect((caught as Error).message).to.equal('Invalid host/port specified: "v6only:80" (no IPv4 address (see options ipv4 and ipv6))');
    });

    it('reports names that do not resolve', async () => {
      const lookup = sinon.stub().rejects(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }));
      let caught: unknown;
      try {
        await resolveListen(adjust({ listen: 'nowhere.invalid:80' }), lookup);
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(InvalidOptionError);
      expect((caught as InvalidOptionError).option).to.equal('listen');
      expect((caught as Error).message).to.equal('Invalid host/port specified: "nowhere.invalid:80" (ENOTFOUND)');
    });

    it('returns nothing when a unix socket replaces TCP', async () => {
      expect(await resolveListen(adjust({ unixSocket: '/tmp/x.sock' }))).to.deep.equal([]);
    });
  });

  describe('formatServingUrl', () => {
    it('formats IPv4, bracketed IPv6 and unix socket paths', () => {
      expect(formatServingUrl({ address: '127.0.0.1', family: 'IPv4', port: 8080 })).to.equal('http://127.0.0.1:8080');
      expect(formatServingUrl({ address: '::1', family: 'IPv6', port: 8080 })).to.equal('http://[::1]:8080');
      expect(formatServingUrl({ address: '::', family: 'IPv6', port: 1 })).to.equal('http://[::]:1');
      expect(formatServingUrl('/tmp/garcon.sock')).to.equal('http://unix:/tmp/garcon.sock');
    });
  });
});
