import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import sinon from 'sinon';
import {
  apacheTime,
  createAccessLog,
  LOG_FIELD_MAX,
  escapeLogField,
  formatCombined,
  formatJson,
  receivedAt,
  type AccessEntry,
} from '../src/access-log.js';
import { makeAdjustments } from '../src/adjustments.js';
import { InvalidOptionError } from '../src/errors.js';
import type { Logger } from '../src/types.js';

function entry(overrides: Partial<AccessEntry> = {}, environ: Record<string, unknown> = {}): AccessEntry {
  return {
    environ: {
      REMOTE_ADDR: '203.0.113.7',
      REQUEST_METHOD: 'GET',
      REQUEST_URI: '/path?q=1',
      SERVER_PROTOCOL: 'HTTP/1.1',
      HTTP_REFERER: 'http://example.com/',
      HTTP_USER_AGENT: 'curl/8.0',
      ...environ,
    },
    status: '200 OK',
    bytesSent: 1234,
    startTime: 1_000_000_000n,
    endTime: 1_002_345_678n,
    ...overrides,
  };
}

const WHEN = new Date(Date.UTC(2024, 9, 5, 13, 5, 9));

describe('access log', () => {
  let savedTz: string | undefined;
  beforeEach(() => {
    savedTz = process.env.TZ;
    process.env.TZ = 'UTC';
  });
  afterEach(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  describe('apacheTime', () => {
    it('formats local time with the UTC offset', () => {
      expect(apacheTime(WHEN)).to.equal('[05/Oct/2024:13:05:09 +0000]');
      process.env.TZ = 'XYZ+07'; // POSIX form: seven hours west of UTC
      expect(apacheTime(WHEN)).to.equal('[05/Oct/2024:06:05:09 -0700]');
      process.env.TZ = 'ABC-05';
      expect(apacheTime(WHEN)).to.equal('[05/Oct/2024:18:05:09 +0500]');
    });
  });

  describe('escapeLogField', () => {
    it('escapes quotes, backslashes and everything outside printable ASCII', () => {
      expect(escapeLogField('plain text/1.0')).to.equal('plain text/1.0');
      expect(escapeLogField('say "hi" \\ bye')).to.equal('say \\"hi\\" \\\\ bye');
      expect(escapeLogField('a\r\nb\tc\x00\x7f')).to.equal('a\\x0d\\x0ab\\x09c\\x00\\x7f');
      expect(escapeLogField('caf\xe9 \u20ac')).to.equal('caf\\xe9 \\u20ac');
    });

    it('keeps at most LOG_FIELD_MAX chars of the text, and says how many it left out', () => {
      const clean = 'a'.repeat(LOG_FIELD_MAX + 10);
      expect(escapeLogField(clean)).to.equal(`${'a'.repeat(LOG_FIELD_MAX)}...(10 more)`);
      // 256 KiB of \xff would be a 1 MB field.
      const hostile = '\xff'.repeat(256 * 1024);
      expect(escapeLogField(hostile)).to.equal(`${'\\xff'.repeat(LOG_FIELD_MAX)}...(${256 * 1024 - LOG_FIELD_MAX} more)`);
      expect(escapeLogField(`x"${'y'.repeat(LOG_FIELD_MAX)}`)).to.equal(`x\\"${'y'.repeat(LOG_FIELD_MAX - 2)}...(2 more)`);
    });
  });

  describe('combined format', () => {
    it('writes the Apache combined fields and the response time', () => {
      expect(formatCombined(entry(), WHEN)).to.equal(
        '203.0.113.7 - - [05/Oct/2024:13:05:09 +0000] "GET /path?q=1 HTTP/1.1" 200 1234 "http://example.com/" "curl/8.0" 2.345ms',
      );
    });

    it('uses - for no bytes, no referer, no user agent and no user; shows REMOTE_USER', () => {
      const line = formatCombined(entry({ status: '304 Not Modified', bytesSent: 0 }, { HTTP_REFERER: undefined, HTTP_USER_AGENT: '', REMOTE_USER: 'bob' }), WHEN);
      expect(line).to.equal('203.0.113.7 - bob [05/Oct/2024:13:05:09 +0000] "GET /path?q=1 HTTP/1.1" 304 - "-" "-" 2.345ms');
    });

    it('cannot be made to forge lines or fields by the client', () => {
      const line = formatCombined(entry({}, { REQUEST_URI: '/x" 200 1 "-" "-"\n1.2.3.4 - -', HTTP_USER_AGENT: 'evil"\r\nagent' }), WHEN);
      expect(line).to.not.include('\n');
      expect(line).to.include('"GET /x\\" 200 1 \\"-\\" \\"-\\"\\x0a1.2.3.4 - - HTTP/1.1"');
      expect(line).to.include('"evil\\"\\x0d\\x0aagent"');
    });
  });

  describe('json format', () => {
    it('writes one object with the same facts', () => {
      const parsed = JSON.parse(formatJson(entry({}, { REQUEST_URI: '/a\nb' }), WHEN)) as Record<string, unknown>;
      expect(parsed).to.deep.equal({
        time: '2024-10-05T13:05:09.000Z',
        remoteAddr: '203.0.113.7',
        remoteUser: null,
        method: 'GET',
        uri: '/a\nb',
        protocol: 'HTTP/1.1',
        status: 200,
        bytes: 1234,
        referer: 'http://example.com/',
        userAgent: 'curl/8.0',
        durationMs: 2.345,
      });
      expect(formatJson(entry(), WHEN)).to.not.include('\n');
    });

    it('gives null, not the combined format\'s "-", for a request line the server could not read', () => {
      const unread = entry({}, { REQUEST_METHOD: '', REQUEST_URI: '', SERVER_PROTOCOL: '' });
      expect(JSON.parse(formatJson(unread, WHEN))).to.include({ method: null, uri: null, protocol: null });
      expect(formatCombined(unread, WHEN)).to.contain(' "-" 200 ');
    });
  });

  it('dates a line when its request came in (Apache %t), not when it was written', () => {
    // entry() lasted 2.345678 ms.
    expect(receivedAt(entry(), 1_000_000).getTime()).to.be.closeTo(1_000_000 - 2.345678, 1);
    const clock = sinon.useFakeTimers({ now: WHEN.getTime() + 1, toFake: ['Date'] });
    try {
      // Written 1 ms into 13:05:09, the request came in 2.3 ms before: in 13:05:08.
      expect(formatCombined(entry())).to.include(' [05/Oct/2024:13:05:08 +0000] ');
      clock.tick(2);
      expect(formatCombined(entry())).to.include(' [05/Oct/2024:13:05:09 +0000] ');
      clock.tick(60_000);
      expect(formatCombined(entry())).to.include(' [05/Oct/2024:13:06:09 +0000] ');
    } finally {
      clock.restore();
    }
  });

  describe('createAccessLog', () => {
    const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

    it('is null when the access log is off (the default)', () => {
      expect(createAccessLog(makeAdjustments({ logger: silent }))).to.equal(null);
      expect(createAccessLog(makeAdjustments({ logger: silent, accessLog: 'off' }))).to.equal(null);
    });

    it('writes to stdout when turned on without a logger', () => {
      const write = sinon.stub(process.stdout, 'write').returns(true);
      try {
        const log = createAccessLog(makeAdjustments({ accessLog: true, logLevel: 'silent' }));
        log?.write(entry());
        log?.write(entry({ status: '404 Not Found' }));
        expect(write.callCount).to.equal(0);
        log?.flush();
      } finally {
        write.restore();
      }
      // The lines of one turn leave in one write.
      expect(write.callCount).to.equal(1);
      const [first, second, end] = String(write.firstCall.args[0]).split('\n');
      expect(first).to.match(/^203\.0\.113\.7 - - \[.*\] "GET \/path\?q=1 HTTP\/1\.1" 200 1234 .*ms$/);
      expect(second).to.include('" 404 1234 ');
      expect(end).to.equal('');
    });

    it('goes through logger.info when a logger was given', () => {
      const logger = { ...silent, info: sinon.spy() };
      const log = createAccessLog(makeAdjustments({ logger, accessLog: 'yes', accessLogFormat: 'json' }));
      log?.write(entry());
      expect(logger.info.callCount).to.equal(1);
      expect(JSON.parse(String(logger.info.firstCall.args[0]))).to.include({ status: 200, method: 'GET' });
    });

    it('appends to a file, the lines of a turn at its end', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'garcon-access-'));
      const file = path.join(dir, 'access.log');
      try {
        fs.writeFileSync(file, 'earlier line\n');
        const log = createAccessLog(makeAdjustments({ logger: silent, accessLog: file }));
        log?.write(entry());
        log?.write(entry({ status: '404 Not Found', bytesSent: 0 }));
        expect(fs.readFileSync(file, 'utf8')).to.equal('earlier line\n');
        await new Promise((resolve) => setImmediate(resolve));
        const lines = fs.readFileSync(file, 'utf8').split('\n');
        expect(lines).to.have.length(4);
        expect(lines[0]).to.equal('earlier line');
        expect(lines[1]).to.include('" 200 1234 ');
        expect(lines[2]).to.include('" 404 - ');
        expect(lines[3]).to.equal('');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a write that fails (disk full) is reported once through the logger, never thrown into the request', () => {
      const logger = { ...silent, error: sinon.spy(), warn: sinon.spy() };
      const log = createAccessLog(makeAdjustments({ logger, accessLog: '/dev/full' }))!;
      for (let i = 0; i < 3; i++) {
        expect(() => log.write(entry())).not.to.throw();
        expect(() => log.flush()).not.to.throw();
      }
      expect(logger.error.callCount).to.equal(1);
      expect(String(logger.error.firstCall.args[0])).to.match(/^Cannot write the access log/);
      log.close();
    });

    it('a write cut short by a full disk: the fragment is ended before the next lines, so none is glued to it', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'garcon-access-'));
      const file = path.join(dir, 'access.log');
      // The module object itself: the import's namespace copy cannot be stubbed, src reads through to this one.
      const nodeFs = require('node:fs') as typeof fs;
      const realWrite = nodeFs.writeSync as (...args: unknown[]) => number;
      /** The disk fills after 10 bytes of the next batch: a short write, then ENOSPC. */
      const fillDisk = () => {
        let calls = 0;
        return sinon.stub(nodeFs, 'writeSync').callsFake(((fd: number, data: Uint8Array) => {
          if (calls++ === 0) return realWrite(fd, data, 0, 10);
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        }) as typeof fs.writeSync);
      };
      try {
        const log = createAccessLog(makeAdjustments({ logger: silent, accessLog: file }))!;
        const full = fillDisk();
        log.write(entry());
        log.flush();
        full.restore();
        log.write(entry({ status: '404 Not Found', bytesSent: 0 }));
        log.flush();
        const lines = fs.readFileSync(file, 'utf8').split('\n');
        expect(lines).to.have.length(3);
        expect(lines[0]).to.have.length(10); // the fragment, ended
        expect(lines[1]).to.match(/^\S+ - - \[.*" 404 - /);
        // Torn again, then logrotate's move: the new file starts clean, the fragment stayed in the old one.
        const fullAgain = fillDisk();
        log.write(entry());
        log.flush();
        fullAgain.restore();
        fs.renameSync(file, `${file}.1`);
        log.reopen();
        log.write(entry({ status: '404 Not Found', bytesSent: 0 }));
        log.flush();
        log.close();
        expect(fs.readFileSync(file, 'utf8')).to.match(/^\S+ - - \[[^\n]*" 404 - [^\n]*\n$/);
      } finally {
        sinon.restore();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('an environ value that throws when read (a lazy getter) is reported once, never thrown into the request', () => {
      const logger = { ...silent, error: sinon.spy() };
      const log = createAccessLog(makeAdjustments({ logger, accessLog: '/dev/null' }))!;
      const environ = entry().environ;
      Object.defineProperty(environ, 'REMOTE_USER', { enumerable: true, get: () => { throw new Error('bad token'); } });
      for (let i = 0; i < 2; i++) expect(() => log.write({ ...entry(), environ })).not.to.throw();
      expect(logger.error.callCount).to.equal(1);
      expect(String(logger.error.firstCall.args[1])).to.include('bad token');
      log.close();
    });

    it('a logger whose info() throws does not break the request either', () => {
      const logger = { ...silent, info: () => { throw new Error('logger down'); } };
      const stderr = sinon.stub(process.stderr, 'write').returns(true);
      try {
        const log = createAccessLog(makeAdjustments({ logger, accessLog: true }))!;
        expect(() => log.write(entry())).not.to.throw();
      } finally {
        stderr.restore();
      }
      expect(String(stderr.firstCall.args[0])).to.match(/^ERROR:garcon:the logger's info\(\) failed: Error: logger down/);
    });

    it('reopen() starts a new file under the name after a move (logrotate), and close() closes it', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'garcon-access-'));
      const file = path.join(dir, 'access.log');
      try {
        const log = createAccessLog(makeAdjustments({ logger: silent, accessLog: file }))!;
        log.write(entry());
        fs.renameSync(file, `${file}.1`);
        log.write(entry({ status: '201 Created' }));
        log.reopen();
        log.write(entry({ status: '404 Not Found' }));
        log.close();
        expect(fs.readFileSync(`${file}.1`, 'utf8').split('\n').filter(Boolean).map((l) => l.split('" ')[1]!.slice(0, 3))).to.deep.equal(['200', '201']);
        expect(fs.readFileSync(file, 'utf8')).to.include('" 404 ');
        const before = fs.readdirSync('/proc/self/fd').length;
        createAccessLog(makeAdjustments({ logger: silent, accessLog: file }))!.close();
        expect(fs.readdirSync('/proc/self/fd').length).to.equal(before);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('stdout closed by its reader (EPIPE) is reported once on stderr, and the process goes on', () => {
      const write = sinon.stub(process.stdout, 'write').returns(true);
      const stderr = sinon.stub(process.stderr, 'write').returns(true);
      try {
        const log = createAccessLog(makeAdjustments({ accessLog: true, logLevel: 'error' }))!;
        // What Node does when the pipe's reader is gone: an 'error' event on stdout.
        process.stdout.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
        log.write(entry());
        log.write(entry());
        log.close();
      } finally {
        write.restore();
        stderr.restore();
      }
      expect(write.callCount).to.equal(0);
      expect(stderr.args.filter(([text]) => String(text).startsWith('ERROR:garcon:Cannot write the access log'))).to.have.length(1);
    });

    it('writes the lines it holds when the process exits before the end of the turn', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'garcon-access-'));
      const file = path.join(dir, 'access.log');
      try {
        const script = `
          const { createAccessLog } = require(${JSON.stringify(path.join(__dirname, '..', 'src', 'access-log.js'))});
          const { makeAdjustments } = require(${JSON.stringify(path.join(__dirname, '..', 'src', 'adjustments.js'))});
          const log = createAccessLog(makeAdjustments({ accessLog: ${JSON.stringify(file)}, logLevel: 'silent' }));
          const entry = { environ: { REQUEST_METHOD: 'GET', REQUEST_URI: '/exit', SERVER_PROTOCOL: 'HTTP/1.1' },
            status: '200 OK', bytesSent: 1, startTime: 0n, endTime: 1n };
          log.write(entry);
          log.write(entry);
          process.exit(3);`;
        const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
        expect(result.status).to.equal(3);
        expect(fs.readFileSync(file, 'utf8').split('\n').filter((line) => line.includes('"GET /exit HTTP/1.1" 200 1 '))).to.have.length(2);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('fails at start-up when the file cannot be opened', () => {
      const adj = makeAdjustments({ logger: silent, accessLog: path.join(os.tmpdir(), 'no-such-dir-garcon', 'a.log') });
      expect(() => createAccessLog(adj)).to.throw(InvalidOptionError, /^Cannot open access log ".*a\.log": ENOENT/);
    });
  });
});
