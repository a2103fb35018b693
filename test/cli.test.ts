// garcon-serve: the argument parser in-process, and the real command in child processes.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { OPTIONS } from '../src/adjustments.js';
import { parseCommandLine, usage } from '../src/cli-args.js';
import { CommandLineError } from '../src/errors.js';

const BUILD = path.resolve(__dirname, '..');
const CLI = path.join(BUILD, 'src', 'cli.js');
const FIXTURES = path.join(BUILD, 'fixtures');
const ROOT_FIXTURES = path.resolve(__dirname, '..', '..', 'fixtures');

function parseError(argv: string[]): string {
  try {
    parseCommandLine(argv);
  } catch (err) {
    expect(err).to.be.instanceOf(CommandLineError);
    return (err as Error).message;
  }
  throw new Error('expected a CommandLineError');
}

describe('garcon-serve', () => {
  describe('parseCommandLine', () => {
    it('takes values with = or as the next argument, and the app after the options', () => {
      expect(parseCommandLine(['--port=81', '--host', '127.0.0.1', './app.js:app'])).to.deep.equal({
        help: false,
        app: './app.js:app',
        call: false,
        config: null,
        options: { port: '81', host: '127.0.0.1' },
      });
    });

    it('has a switch and a --no- form for every boolean; the last one wins', () => {
      expect(parseCommandLine(['--no-ipv6', '--expose-tracebacks', '--no-expose-tracebacks', 'a:b']).options).to.deep.equal({
        ipv6: 'false',
        exposeTracebacks: 'false',
      });
    });

    it('adds up repeated --listen', () => {
      expect(parseCommandLine(['--listen=127.0.0.1:1', '--listen', '[::1]:2', 'a:b']).options.listen).to.equal('127.0.0.1:1 [::1]:2');
    });

    it('accepts unique prefixes of long flags (getopt) and rejects ambiguous ones', () => {
      expect(parseCommandLine(['--expose', '--trusted-proxy-c=2', 'a:b']).options).to.deep.equal({ exposeTracebacks: 'true', trustedProxyCount: '2' });
      expect(parseError(['--max-request', '1', 'a:b'])).to.equal('option --max-request is ambiguous (--max-request-header-size, --max-request-header-fields, --max-request-body-size)');
    });

    it('reads --app, --call, --config, --help', () => {
      expect(parseCommandLine(['--app=x:y', '--call'])).to.include({ app: 'x:y', call: true });
      expect(parseCommandLine(['--config', 'a.ini#web'])).to.include({ config: 'a.ini#web', app: null });
      expect(parseCommandLine(['--help']).help).to.equal(true);
    });

    it('turns --access-log on alone and names a file only with =', () => {
      expect(parseCommandLine(['--access-log', 'a:b'])).to.deep.include({ app: 'a:b', options: { accessLog: 'true' } });
      expect(parseCommandLine(['--access-log=/tmp/a.log', 'a:b']).options).to.deep.equal({ accessLog: '/tmp/a.log' });
      expect(parseCommandLine(['--no-access-log', 'a:b']).options).to.deep.equal({ accessLog: 'false' });
    });

    it('stops at the first positional argument and at --', () => {
      expect(parseError(['app:x', '--port=80'])).to.equal('Options must come before MODULE:EXPORT: --port=80 came after app:x');
      expect(parseCommandLine(['--', '--weird:app']).app).to.equal('--weird:app');
      expect(parseError(['--', 'a:b', '--c'])).to.equal('Provide only one application');
    });

    it('lets a value flag swallow the next argument (so no app is left)', () => {
      expect(parseCommandLine(['--port', 'app:x'])).to.deep.include({ app: null, options: { port: 'app:x' } });
    });

    it('rejects unknown flags, switches with values, missing values, short flags and two apps', () => {
      expect(parseError(['--bogus'])).to.equal('option --bogus not recognized');
      expect(parseError(['--no-host', 'a:b'])).to.equal('option --no-host not recognized');
      expect(parseError(['--ipv4=yes', 'a:b'])).to.equal('option --ipv4 must not have an argument');
      expect(parseError(['--port'])).to.equal('option --port requires argument');
      expect(parseError(['-p', '80'])).to.equal('option -p not recognized (options are long: --name)');
      expect(parseError(['--app=a:b', 'c:d'])).to.equal('Provide only one application');
      expect(parseError(['--app=a:b', '--app=c:d'])).to.equal('Provide only one application');
      expect(parseError(['a:b', 'c:d'])).to.equal('Provide only one application');
      expect(parseError(['--logger=x', 'a:b'])).to.equal('option --logger not recognized');
    });

    it('lists every flag in --help, with its default', () => {
      const text = usage();
      expect(text).to.match(/^Usage:\n\n {4}garcon-serve \[OPTIONS\] MODULE:EXPORT\n/);
      for (const spec of OPTIONS) {
        if (spec.flag !== null) expect(text, spec.flag).to.include(`  ${spec.flag}`);
      }
      expect(text).to.include('  --ipv6, --no-ipv6\n');
      expect(text).to.include('--threads=THREADS\n      Most requests running inside the app at once in one process; the rest wait in a queue. Default: 4.\n');
      expect(text).to.include('Default: 600.');
      // garcon-serve's own default, not serve()'s.
      expect(text).to.match(/--log-level=LOG_LEVEL\n[^\n]*Default: info\.\n/);
    });
  });

  describe('the command', function () {
    this.timeout(20000);
    const children: ChildProcess[] = [];

    interface Run {
      child: ChildProcess;
      stdout: () => string;
      stderr: () => string;
      exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
    }

    function run(args: string[], cwd = FIXTURES): Run {
      const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let out = '';
      let err = '';
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        // 'close', not 'exit': only then has all of the child's output been read.
        child.on('close', (code, signal) => resolve({ code, signal }));
      });
      return { child, stdout: () => out, stderr: () => err, exited };
    }

    /** Wait for the first "Serving on" line; fails with the child's output if it exits or stalls. */
    async function serving(r: Run, ms = 10000): Promise<string> {
      const deadline = Date.now() + ms;
      for (;;) {
        const match = /Serving on (\S+)\n/.exec(r.stdout());
        if (match) return match[1] as string;
        if (r.child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`no "Serving on" line (exit ${r.child.exitCode}); stdout: ${r.stdout()} stderr: ${r.stderr()}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }

    async function finished(r: Run, ms = 10000) {
      const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running; stderr: ${r.stderr()}`)), ms).unref());
      return Promise.race([r.exited, timer]);
    }

    function get(url: string, options: http.RequestOptions = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
      return new Promise((resolve, reject) => {
        const req = http.request(url, { agent: false, ...options }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.setTimeout(options.timeout ?? 8000, () => req.destroy(new Error('request timed out')));
        req.end(options.method === 'POST' ? 'x'.repeat(20) : undefined);
      });
    }

    afterEach(() => {
      for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    /** Run `work` with a fresh temporary directory, removed afterwards. */
    /** The process ids of a --workers run's workers (the primary's children). */
    function workerPids(r: Run): number[] {
      return execFileSync('ps', ['-o', 'pid=', '--ppid', String(r.child.pid)], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
    }

    /** Send `signal` to each process still there (a worker with nothing in flight may have finished already). */
    function signalEach(pids: number[], signal: NodeJS.Signals): void {
      for (const pid of pids) {
        try {
          process.kill(pid, signal);
        } catch {
          // gone already
        }
      }
    }

    /** The stderr of a run that must end with exit code 1. */
    async function refusal(r: Run): Promise<string> {
      expect((await finished(r)).code, r.stderr()).to.equal(1);
      return r.stderr();
    }

    async function inTempDir(work: (dir: string) => Promise<void>): Promise<void> {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'garcon-cli-'));
      try {
        await work(dir);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }

    it('--help prints the usage on stdout and exits 0', async () => {
      const r = run(['--help', '--config=missing.ini']);
      expect(await finished(r)).to.deep.equal({ code: 0, signal: null });
      expect(r.stdout()).to.equal(usage());
    });

    it('a bad flag prints the error and the usage on stderr and exits 1', async () => {
      const r = run(['--bogus', 'cli-apps.js:app']);
      expect((await finished(r)).code).to.equal(1);
      expect(r.stderr()).to.match(/^Error: option --bogus not recognized\n\nUsage:/);
      expect(r.stdout()).to.equal('');
    });

    it('no application: exit 1', async () => {
      const r = run(['--port=0']);
      expect((await finished(r)).code).to.equal(1);
      expect(r.stderr()).to.match(/^Error: Specify an application\n\nUsage:/);
    });

    it('a module that cannot be loaded, a missing export, or an export that is not a function: exit 1', async () => {
      const cases: [string, RegExp][] = [
        ['./nope.js:app', /^Error: Cannot import application '\.\/nope\.js:app': cannot find module "\.\/nope\.js"\n\nUsage:/],
        ['no-such-package-garcon:app', /^Error: Cannot import application 'no-such-package-garcon:app': cannot find module "no-such-package-garcon"\n/],
        ['./cli-apps.js:nope', /^Error: Cannot import application '\.\/cli-apps\.js:nope': module has no export "nope"\n/],
        ['./cli-apps.js:notAFunction', /^Error: Cannot use application '\.\/cli-apps\.js:notAFunction': it is string, not a function \(environ, startResponse\)\n/],
      ];
      await Promise.all(cases.map(async ([target, message]) => {
        const r = run(['--listen=127.0.0.1:0', target]);
        expect((await finished(r)).code, target).to.equal(1);
        expect(r.stderr(), target).to.match(message);
      }));
    });

    it('a bad option value or a conflict: exit 1 naming the option', async () => {
      const [a, b, c] = [
        run(['--threads=0', 'cli-apps.js:app']),
        run(['--listen=127.0.0.1:0', '--port=1', 'cli-apps.js:app']),
        run(['--listen=127.0.0.1:0', '--no-ipv4', '--no-ipv6', 'cli-apps.js:app']),
      ];
      expect((await finished(a)).code).to.equal(1);
      expect(a.stderr()).to.equal('Error: --threads: Invalid value for option "threads": "0" must be at least 1\n');
      expect((await finished(b)).code).to.equal(1);
      expect(b.stderr()).to.equal('Error: Options "host" and "port" may not be set together with "listen" (set by --port and --listen)\n');
      expect((await finished(c)).code).to.equal(1);
      expect(c.stderr()).to.equal('Error: Options "ipv4" and "ipv6" may not both be false (set by --no-ipv4 and --no-ipv6)\n');
    });

    it('serves a module export, then exits 0 on SIGTERM', async () => {
      const r = run(['--listen=127.0.0.1:0', './cli-apps.js:nested.inner.app']);
      const url = await serving(r);
      expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await get(`${url}/there`);
      expect(res.status).to.equal(200);
      expect(res.body).to.equal(`hello from ${r.child.pid} |/there`);
      r.child.kill('SIGTERM');
      expect(await finished(r)).to.deep.equal({ code: 0, signal: null });
    });

    for (const workers of ['1', '2']) {
      it(`SIGHUP reopens the access log file after logrotate moved it (workers=${workers}), and does not stop the server`, async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'garcon-cli-'));
        const file = path.join(dir, 'access.log');
        try {
          const r = run(['--listen=127.0.0.1:0', `--workers=${workers}`, `--access-log=${file}`, './cli-apps.js:nested.inner.app']);
          const url = await serving(r, 15000);
          expect((await get(`${url}/before`)).status).to.equal(200);
          fs.renameSync(file, `${file}.1`);
          r.child.kill('SIGHUP');
          // The reopen is asynchronous to us: wait for the new file to appear.
          for (let i = 0; i < 100 && !fs.existsSync(file); i++) await new Promise((resolve) => setTimeout(resolve, 20));
          for (let i = 0; i < 4; i++) expect((await get(`${url}/after`)).status).to.equal(200);
          expect(fs.readFileSync(`${file}.1`, 'utf8')).to.contain('/before').and.not.contain('/after');
          expect(fs.readFileSync(file, 'utf8')).to.contain('/after');
          r.child.kill('SIGTERM');
          expect(await finished(r)).to.deep.equal({ code: 0, signal: null });
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      });
    }

    it('serves the default export when no EXPORT is given, and a factory with --call', async () => {
      const plain = run(['--port=0', '--host=127.0.0.1', 'cli-apps.js']);
      const factory = run(['--listen=127.0.0.1:0', '--call', './cli-apps.js:makeApp']);
      expect((await get(await serving(plain))).body).to.match(/^hello from \d+ \|\/$/);
      expect((await get(await serving(factory))).body).to.equal('made by a factory');
    });

    it('--call with a factory that throws: its error and stack on stderr, exit 1', async () => {
      const r = run(['--listen=127.0.0.1:0', '--call', './cli-apps.js:brokenFactory']);
      expect((await finished(r)).code).to.equal(1);
      expect(r.stderr()).to.match(/^Error: factory exploded\nError: factory exploded\n {4}at brokenFactory/);
    });

    it('passes every flag category to the server (listening, proxy, URL, identity, limits)', async () => {
      const r = run([
        '--listen=127.0.0.1:0', '--url-prefix=/mnt', '--server-name=example.org', '--url-scheme=https', '--ident=flagtest',
        '--trusted-proxy=127.0.0.1', '--trusted-proxy-headers=x-forwarded-for', '--threads=2', '--channel-timeout=5',
        '--max-request-body-size=10', '--no-expose-tracebacks', '--log-level=error', './echo.js:app',
      ]);
      const url = await serving(r);
      const res = await get(`${url}/mnt/path?q=1`, { headers: { 'X-Forwarded-For': '198.51.100.9' } });
      expect(res.headers.server).to.equal('flagtest');
      expect(JSON.parse(res.body)).to.include({
        SCRIPT_NAME: '/mnt',
        PATH_INFO: '/path',
        SERVER_NAME: 'example.org',
        'wsgi.url_scheme': 'https',
        REMOTE_ADDR: '198.51.100.9',
      });
      expect((await get(`${url}/mnt/`, { method: 'POST' })).status).to.equal(413);
    });

    it('listens on a unix socket with the given permissions', async function () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'garcon-cli-'));
      const sock = path.join(dir, 'g.sock');
      try {
        const r = run([`--unix-socket=${sock}`, '--unix-socket-perms=660', './cli-apps.js:app']);
        expect(await serving(r)).to.equal(`http://unix:${sock}`);
        expect(fs.statSync(sock).mode & 0o777).to.equal(0o660);
        expect((await get('http://localhost/u', { socketPath: sock })).body).to.match(/^hello from \d+ \|\/u$/);
        r.child.kill('SIGINT');
        expect((await finished(r)).code).to.equal(0);
        expect(fs.existsSync(sock)).to.equal(false);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('serves an ini file with a pipeline (--config)', async () => {
      fs.copyFileSync(path.join(ROOT_FIXTURES, 'cli-pipeline.ini'), path.join(FIXTURES, 'cli-pipeline.ini'));
      const r = run(['--config', 'cli-pipeline.ini']);
      const res = await get(await serving(r));
      expect(res.headers.server).to.equal('ini-server');
      expect(res.body).to.equal(`HELLO FROM ${r.child.pid} |/ +FROM-HI`);
      // Listener flags on the command line replace the file's listen (no host/port conflict).
      const r2 = run(['--config', 'cli-pipeline.ini', '--host=127.0.0.1', '--port=0', '--ident=cli-wins']);
      expect((await get(await serving(r2))).headers.server).to.equal('cli-wins');
    });

    it('a bad value checked only with the others (trustedProxy, listen) names the ini key or the flag', async () => {
      await inTempDir(async (dir) => {
        const file = path.join(dir, 'late.ini');
        fs.writeFileSync(file, '[server:main]\ntrusted_proxy = 10.0.0.300\n[app:main]\nuse = file:x.js\n');
        const [a, b] = [run(['--config', file]), run(['--host=', './cli-apps.js:app'])];
        expect(await refusal(a)).to.match(new RegExp(`^Error: ${file.replace(/[.\\/]/g, '\\$&')} \\[server:main\\] trusted_proxy: Invalid value for option "trustedProxy": "10\\.0\\.0\\.300"`));
        expect(await refusal(b)).to.match(/^Error: --host: Invalid host\/port specified: ":8080"/);
      });
    });

    it('an ini file without a server section needs a listener on the command line (never a silent 0.0.0.0:8080)', async () => {
      await inTempDir(async (dir) => {
        const file = path.join(dir, 'apponly.ini');
        fs.writeFileSync(file, `[Server:main]\nlisten = 127.0.0.1:0\n[app:main]\nuse = file:${path.join(FIXTURES, 'cli-apps.js')}#app\n`);
        expect(await refusal(run(['--config', file]))).to.equal(`Error: ${file} [Server:main]: section names are case-sensitive; write [server:main]\n`);
        fs.writeFileSync(file, `[app:main]\nuse = file:${path.join(FIXTURES, 'cli-apps.js')}#app\n`);
        expect(await refusal(run(['--config', file]))).to.equal(`Error: ${file} has no [server:main] section: add one (with listen = HOST:PORT), or give --listen on the command line\n`);
        const listening = run(['--config', file, '--listen=127.0.0.1:0']);
        expect((await get(await serving(listening))).status).to.equal(200);
        listening.child.kill('SIGTERM');
        expect((await finished(listening)).code).to.equal(0);
      });
    });

    it('a conflict between options names where each was set', async () => {
      await inTempDir(async (dir) => {
        const file = path.join(dir, 'both.ini');
        fs.writeFileSync(file, '[server:main]\nlisten = 127.0.0.1:0\nport = 8080\n[app:main]\nuse = file:x.js\n');
        const [a, b] = [run(['--config', file]), run(['--trusted-proxy-headers=x-forwarded-for', './cli-apps.js:app'])];
        expect(await refusal(a)).to.equal(`Error: Options "host" and "port" may not be set together with "listen" (set by ${file} [server:main] port and ${file} [server:main] listen)\n`);
        expect(await refusal(b)).to.match(/^Error: Option "trustedProxyHeaders" has no meaning without setting "trustedProxy" \(set by --trusted-proxy-headers\)\n/);
      });
    });

    it('a port in use: one line saying so, no stack trace', async () => {
      const busy = net.createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', () => resolve()));
      try {
        const port = (busy.address() as net.AddressInfo).port;
        const r = run([`--listen=127.0.0.1:${port}`, './cli-apps.js:app']);
        expect((await finished(r)).code).to.equal(1);
        expect(r.stderr()).to.equal(`Error: Cannot listen on 127.0.0.1:${port}: listen EADDRINUSE: address already in use 127.0.0.1:${port}\n`);
      } finally {
        busy.close();
      }
    });

    it('a bad ini value: exit 1 naming file, section and key', async () => {
      await inTempDir(async (dir) => {
        const file = path.join(dir, 'bad.ini');
        fs.writeFileSync(file, '[server:main]\nthreads = lots\n[app:main]\nuse = file:x.js\n');
        const r = run(['--config', file]);
        expect((await finished(r)).code).to.equal(1);
        expect(r.stderr()).to.equal(`Error: ${file} [server:main] threads: Invalid value for option "threads": "lots" is not an integer\n`);
      });
    });

    it('--access-log writes one combined line per request to stdout', async () => {
      const r = run(['--listen=127.0.0.1:0', '--access-log', './cli-apps.js:app']);
      const url = await serving(r);
      const res = await get(`${url}/logged?x=1`, { headers: { 'User-Agent': 'cli-test "agent"' } });
      r.child.kill('SIGTERM');
      await finished(r);
      const line = r.stdout().split('\n').find((l) => l.includes('/logged'));
      expect(line).to.match(
        new RegExp(`^127\\.0\\.0\\.1 - - \\[[^\\]]+\\] "GET /logged\\?x=1 HTTP/1\\.1" 200 ${res.body.length} "-" "cli-test \\\\"agent\\\\"" \\d+\\.\\d{3}ms$`),
      );
    });

    it('--access-log to a pipe its reader is slow to read: SIGTERM still delivers every line before exit', async () => {
      // garcon | a reader that takes the first line, then stalls (a log shipper catching up), then reads the rest.
      const script = `{ "${process.execPath}" "${CLI}" --listen=127.0.0.1:0 --access-log ./cli-apps.js:app 2>/dev/null & echo "pid $!" >&2; wait; }` +
        ' | { IFS= read -r line; echo "$line" >&2; sleep 2; cat; }';
      const shell = spawn('sh', ['-c', script], { cwd: FIXTURES, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(shell);
      let err = '';
      let out = '';
      shell.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const closed = new Promise<void>((resolve) => shell.on('close', () => resolve()));
      const started = await new Promise<{ pid: number; port: number }>((resolve) => {
        shell.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          const pid = /pid (\d+)/.exec(err);
          const port = /Serving on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
          if (pid && port) resolve({ pid: Number(pid[1]), port: Number(port[1]) });
        });
      });
      const requests = 100;
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(started.port, '127.0.0.1');
        let seen = 0;
        socket.on('data', (d: Buffer) => {
          seen += d.toString('latin1').split('HTTP/1.1 200').length - 1;
          if (seen >= requests) {
            socket.destroy();
            resolve();
          }
        });
        socket.on('error', reject);
        // 2 KB lines: far more than the 64 KiB a pipe holds while its reader stalls.
        socket.write(`GET /piped HTTP/1.1\r\nHost: x\r\nUser-Agent: ${'A'.repeat(2000)}\r\n\r\n`.repeat(requests));
      });
      process.kill(started.pid, 'SIGTERM');
      await closed;
      expect(out.split('\n').filter((line) => line.includes('"GET /piped HTTP/1.1" 200'))).to.have.length(requests);
    });

    it('--access-log=FILE with --access-log-format=json appends JSON lines to the file', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'garcon-cli-'));
      const file = path.join(dir, 'access.log');
      try {
        const r = run(['--listen=127.0.0.1:0', `--access-log=${file}`, '--access-log-format=json', './cli-apps.js:app']);
        const url = await serving(r);
        await get(`${url}/one`);
        await get(`${url}/two`, { method: 'POST' });
        r.child.kill('SIGTERM');
        await finished(r);
        const entries = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(entries.map((e) => [e.method, e.uri, e.status, e.remoteAddr])).to.deep.equal([
          ['GET', '/one', 200, '127.0.0.1'],
          ['POST', '/two', 200, '127.0.0.1'],
        ]);
        expect(r.stdout()).to.not.include('/one');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('SIGTERM during a slow request: the client still gets its full response, then exit 0', async () => {
      const r = run(['--listen=127.0.0.1:0', './cli-apps.js:slow']);
      const url = await serving(r);
      const pending = get(`${url}/?ms=800`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      r.child.kill('SIGTERM');
      const res = await pending;
      expect(res).to.deep.include({ status: 200, body: 'slept 800' });
      expect(res.headers.connection).to.equal('close');
      expect(await finished(r)).to.deep.equal({ code: 0, signal: null });
    });

    it('a second signal exits at once', async () => {
      const r = run(['--listen=127.0.0.1:0', '--shutdown-timeout=30', './cli-apps.js:slow']);
      const url = await serving(r);
      get(`${url}/?ms=10000`).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const start = Date.now();
      r.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 200));
      r.child.kill('SIGINT');
      expect((await finished(r, 3000)).code).to.equal(1);
      expect(Date.now() - start).to.be.below(2000);
      expect(r.stderr()).to.include('SIGINT received again: exiting without waiting');
    });

    it('--workers: blocking requests run in parallel processes, one "Serving on" line, graceful exit', async () => {
      const r = run(['--listen=127.0.0.1:0', '--workers=2', './cli-apps.js:blocking']);
      const url = await serving(r, 15000);
      // "Serving on" comes once both workers listen: round robin gives each one a request.
      const pids = new Set<string>();
      for (let i = 0; i < 4; i++) pids.add((await get(`${url}/?ms=1`)).body.split(' ').pop() as string);
      expect(pids.size).to.equal(2);
      const [a, b] = await Promise.all([get(`${url}/?ms=700`), get(`${url}/?ms=700`)]);
      expect(a.body.split(' ').pop()).to.not.equal(b.body.split(' ').pop());
      // Each app blocks its process for 700 ms: in one process the two runs could not overlap.
      const span = (body: string) => /from (\d+) to (\d+)/.exec(body)!.slice(1).map(Number) as [number, number];
      const [[aStart, aEnd], [bStart, bEnd]] = [span(a.body), span(b.body)];
      expect(aStart < bEnd && bStart < aEnd, `${a.body} / ${b.body}`).to.equal(true);
      expect(a.body).to.include('multiprocess=true');
      expect(r.stdout().match(/Serving on/g)).to.have.length(1);
      r.child.kill('SIGTERM');
      expect(await finished(r)).to.deep.equal({ code: 0, signal: null });
    });

    it('--workers with a unix socket: every worker serves on the one socket file, removed at exit', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'garcon-cli-'));
      const sock = path.join(dir, 'w.sock');
      try {
        const r = run([`--unix-socket=${sock}`, '--workers=2', './cli-apps.js:blocking']);
        expect(await serving(r, 15000)).to.equal(`http://unix:${sock}`);
        const pids = new Set<string>();
        for (let i = 0; i < 6; i++) pids.add((await get('http://localhost/?ms=1', { socketPath: sock })).body.split(' ').pop() as string);
        expect(pids.size).to.equal(2);
        r.child.kill('SIGTERM');
        expect((await finished(r)).code).to.equal(0);
        expect(fs.existsSync(sock)).to.equal(false);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a unix socket a running server answers on is refused, with or without --workers, and keeps serving', async () => {
      await inTempDir(async (dir) => {
        const sock = path.join(dir, 'live.sock');
        const first = run([`--unix-socket=${sock}`, './cli-apps.js:app']);
        expect(await serving(first)).to.equal(`http://unix:${sock}`);
        for (const extra of [[], ['--workers=2']]) {
          const second = run([`--unix-socket=${sock}`, ...extra, './cli-apps.js:app']);
          expect((await finished(second)).code).to.equal(1);
          expect(second.stderr()).to.contain(`Cannot listen on ${sock}: a running server answers on ${sock}; refusing to take its socket over`);
        }
        expect((await get('http://localhost/', { socketPath: sock })).status).to.equal(200);
        first.child.kill('SIGTERM');
        expect((await finished(first)).code).to.equal(0);
      });
    });

    it('--workers: a worker that dies is replaced', async () => {
      const r = run(['--listen=127.0.0.1:0', '--workers=2', './cli-apps.js:app']);
      const url = await serving(r, 15000);
      const victim = Number((await get(url)).body.split(' ')[2]);
      process.kill(victim, 'SIGKILL');
      const deadline = Date.now() + 8000;
      const seen = new Set<number>();
      while (seen.size < 2 && Date.now() < deadline) {
        // A connection node:cluster handed to the dying worker just before it died hangs; give up on it quickly.
        const pid = Number((await get(url, { timeout: 500 }).catch(() => ({ body: 'x x 0' }))).body.split(' ')[2]);
        if (pid && pid !== victim) seen.add(pid);
      }
      expect(seen.size).to.equal(2);
      expect(r.stderr()).to.include(`worker ${victim} died (SIGKILL); starting a new one`);
    });

    it('--workers: a worker that fails to start is not restarted; the others serve', async () => {
      const r = run(['--listen=127.0.0.1:0', '--workers=2', '--call', './cli-apps.js:failsInWorkerTwo']);
      const url = await serving(r, 15000);
      const pids = new Set<string>();
      for (let i = 0; i < 4; i++) pids.add((await get(url)).body.split(' ')[2] as string);
      expect(pids.size).to.equal(1);
      expect(r.stderr()).to.match(/worker \d+ exited \(code 1\) before serving; not restarting it/);
      expect(r.stderr().match(/worker two cannot start/g)).to.have.length(2); // message and stack, once
      r.child.kill('SIGTERM');
      expect(await finished(r)).to.deep.equal({ code: 0, signal: null });
    });

    /** --workers=2 on the slow app, SIGTERM to the primary during a 600 ms request: answered, then a clean exit. */
    async function expectGracefulStop(extra: string[]): Promise<Run> {
      const r = run(['--listen=127.0.0.1:0', '--workers=2', ...extra, './cli-apps.js:slow']);
      const url = await serving(r, 15000);
      const graceful = get(`${url}/?ms=600`);
      await new Promise((resolve) => setTimeout(resolve, 150));
      r.child.kill('SIGTERM');
      expect(await graceful).to.deep.include({ status: 200, body: 'slept 600' });
      expect(await finished(r)).to.deep.equal({ code: 0, signal: null });
      return r;
    }

    it('--workers: SIGTERM waits for requests in flight; a second signal stops everything at once', async () => {
      await expectGracefulStop([]);

      const r2 = run(['--listen=127.0.0.1:0', '--workers=2', './cli-apps.js:slow']);
      const url2 = await serving(r2, 15000);
      get(`${url2}/?ms=10000`).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 150));
      r2.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 150));
      r2.child.kill('SIGTERM');
      expect((await finished(r2, 3000)).code).to.equal(1);
    });

    it('--workers: the signal a process group gets (systemd, Ctrl-C) reaches the workers too, and still waits for requests in flight', async () => {
      const r = run(['--listen=127.0.0.1:0', '--workers=2', './cli-apps.js:slow']);
      const url = await serving(r, 15000);
      const graceful = get(`${url}/?ms=800`);
      await new Promise((resolve) => setTimeout(resolve, 150));
      const workers = workerPids(r);
      expect(workers).to.have.length(2);
      r.child.kill('SIGTERM');
      // The primary's shutdown message first, then the group's signal: one stop, not a second signal.
      await new Promise((resolve) => setTimeout(resolve, 150));
      signalEach(workers, 'SIGTERM');
      expect(await graceful).to.deep.include({ status: 200, body: 'slept 800' });
      expect(await finished(r)).to.deep.equal({ code: 0, signal: null });
    });

    it('--workers: a worker killed during the graceful stop makes the primary exit 1', async () => {
      const r = run(['--listen=127.0.0.1:0', '--workers=2', './cli-apps.js:slow']);
      const url = await serving(r, 15000);
      get(`${url}/?ms=3000`).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 150));
      const workers = workerPids(r);
      r.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 150));
      signalEach(workers, 'SIGKILL');
      expect(await finished(r)).to.deep.equal({ code: 1, signal: null });
    });

    it('--workers: workers that keep dying young are restarted, and the primary stays up', async () => {
      const r = run(['--listen=127.0.0.1:0', '--workers=2', '--call', './cli-apps.js:diesYoung']);
      await serving(r, 15000);
      // Each dies 0.3 s after it serves and waits 1 s for its replacement: the primary
      // must not end while none is alive (it used to exit 0 with nothing serving).
      await new Promise((resolve) => setTimeout(resolve, 3500));
      expect(r.child.exitCode).to.equal(null);
      expect(r.stderr().match(/died \(code 3\); starting a new one/g)?.length ?? 0).to.be.at.least(3);
      r.child.kill('SIGTERM');
      expect((await finished(r)).signal).to.equal(null);
    });

    it('--workers: SIGTERM while the workers load stops them as soon as they can, with no "Serving on"', async () => {
      const r = run(['--listen=127.0.0.1:0', '--workers=2', '--shutdown-timeout=3', '--call', './cli-apps.js:slowFactory']);
      while ((r.stderr().match(/loading in/g) ?? []).length < 2) await new Promise((resolve) => setTimeout(resolve, 25));
      r.child.kill('SIGTERM');
      // The factory takes 1.5 s; the workers used to serve on until killed at shutdownTimeout + 5 s.
      expect(await finished(r, 5000)).to.deep.equal({ code: 0, signal: null });
      expect(r.stdout()).to.not.include('Serving on');
    });

    it('--workers: SIGTERM or SIGINT to the whole process group while the workers load is one clean stop (exit 0)', async () => {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        const r = run(['--listen=127.0.0.1:0', '--workers=2', '--shutdown-timeout=3', '--call', './cli-apps.js:slowFactory']);
        while ((r.stderr().match(/loading in/g) ?? []).length < 2) await new Promise((resolve) => setTimeout(resolve, 25));
        // What systemd's stop or Ctrl-C does: every process gets it. The workers used to die of it, an unclean stop.
        signalEach([r.child.pid!, ...workerPids(r)], signal);
        expect(await finished(r, 5000), signal).to.deep.equal({ code: 0, signal: null });
        expect(r.stdout()).to.not.include('Serving on');
      }
    });

    it('--workers: the longest --shutdown-timeout still waits for requests in flight', async () => {
      // The primary's kill timer is the timeout plus a grace: past what setTimeout takes, it fired at once.
      const r = await expectGracefulStop(['--shutdown-timeout=2147483']);
      expect(r.stderr()).to.not.include('TimeoutOverflowWarning');
    });

    it('--workers: SIGHUP while the workers load kills none of them', async () => {
      const r = run(['--listen=127.0.0.1:0', '--workers=2', '--call', './cli-apps.js:slowFactory']);
      while ((r.stderr().match(/loading in/g) ?? []).length < 2) await new Promise((resolve) => setTimeout(resolve, 25));
      r.child.kill('SIGHUP');
      const url = await serving(r, 15000);
      const pids = new Set<string>();
      for (let i = 0; i < 6; i++) pids.add((await get(url)).body.split(' ')[2] as string);
      expect(pids.size).to.equal(2);
      expect(r.stderr()).to.not.include('exited');
      r.child.kill('SIGTERM');
      expect(await finished(r)).to.deep.equal({ code: 0, signal: null });
    });

    it('keeps serving when stdout is closed under it ("Serving on" to a reader that left)', async () => {
      await inTempDir(async (dir) => {
        const sock = path.join(dir, 's.sock');
        const child = spawn(process.execPath, [CLI, `--unix-socket=${sock}`, './cli-apps.js:app'], { cwd: FIXTURES, stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(child);
        child.stdout.destroy();
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const deadline = Date.now() + 10000;
        while (!fs.existsSync(sock) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect((await get('http://localhost/', { socketPath: sock })).status).to.equal(200);
        expect(child.exitCode, err).to.equal(null);
        expect(err).to.not.include('EPIPE');
      });
    });

    it('keeps serving when stderr is closed under it while TransLogger writes there', async () => {
      await inTempDir(async (dir) => {
        const sock = path.join(dir, 's.sock');
        const ini = path.join(dir, 'tl.ini');
        fs.writeFileSync(ini, `[server:main]\nunix_socket = ${sock}\n[pipeline:main]\npipeline = log app\n[filter:log]\nuse = egg:Paste#translogger\n` +
          `[app:app]\nuse = file:${path.join(FIXTURES, 'cli-apps.js')}#app\n`);
        const child = spawn(process.execPath, [CLI, '--config', ini], { stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(child);
        child.stderr.destroy();
        const deadline = Date.now() + 10000;
        while (!fs.existsSync(sock) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
        for (let i = 0; i < 3; i++) {
          expect((await get('http://localhost/', { socketPath: sock })).status).to.equal(200);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(child.exitCode).to.equal(null);
      });
    });

    it('names what failed inside an app module: a missing dependency, a non-Error throw', async () => {
      await inTempDir(async (dir) => {
        fs.writeFileSync(path.join(dir, 'needs.js'), "require('garcon-no-such-dependency');\nexports.app = () => [];\n");
        fs.writeFileSync(path.join(dir, 'throws.js'), "throw 'a string';\n");
        fs.writeFileSync(path.join(dir, 'kaboom.js'), "throw new Error('kaboom at import');\n");
        fs.writeFileSync(path.join(dir, 'k.ini'), '[server:main]\nlisten = 127.0.0.1:0\n[app:main]\nuse = file:kaboom.js#app\n');
        const [a, b, c] = [run(['./needs.js:app'], dir), run(['./throws.js:app'], dir), run(['--config', 'k.ini'], dir)];
        // From an ini file too: the module's own error with its stack, and no usage text in between.
        expect((await finished(c)).code).to.equal(1);
        expect(c.stderr()).to.match(/^Error: .*k\.ini \[app:main\] use target 'file:kaboom\.js': kaboom at import\nError: kaboom at import\n\s+at .*kaboom\.js:1/);
        expect((await finished(a)).code).to.equal(1);
        expect(a.stderr()).to.match(/^Error: Cannot import application '\.\/needs\.js:app': Cannot find module 'garcon-no-such-dependency'/);
        expect((await finished(b)).code).to.equal(1);
        expect(b.stderr()).to.match(/^Error: Cannot import application '\.\/throws\.js:app': it threw a string\n/);
      });
    });

    it('--host or --port overrides only that half of the ini file\'s host and port, and is refused with its listen', async () => {
      await inTempDir(async (dir) => {
        const use = `[app:main]\nuse = file:${path.join(FIXTURES, 'cli-apps.js')}#app\n`;
        const file = path.join(dir, 'hp.ini');
        fs.writeFileSync(file, `[server:main]\nhost = 127.0.0.1\nport = 1\n${use}`);
        const r = run(['--config', file, '--port=0']);
        // The file's host stays: not every address (0.0.0.0).
        expect(await serving(r)).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
        const listens = path.join(dir, 'listen.ini');
        fs.writeFileSync(listens, `[server:main]\nlisten = 127.0.0.1:1\n${use}`);
        const r2 = run(['--config', listens, '--port=0']);
        expect((await finished(r2)).code).to.equal(1);
        expect(r2.stderr()).to.match(/^Error: --port cannot be combined with the listen of .*listen\.ini; give --listen/);
        // A bad host from the file is blamed on the file, not on --port.
        const badHost = path.join(dir, 'badhost.ini');
        fs.writeFileSync(badHost, `[server:main]\nhost = \nport = 1\n${use}`);
        const r3 = run(['--config', badHost, '--port=0']);
        expect((await finished(r3)).code).to.equal(1);
        expect(r3.stderr()).to.include(`Error: ${badHost} [server:main] host, --port: Invalid host/port specified: ":0"`);
      });
    });

    it('--workers: exits 1 when no worker can start', async () => {
      const r = run(['--listen=127.0.0.1:0', '--workers=2', './nope.js:app']);
      expect((await finished(r, 15000)).code).to.equal(1);
      expect(r.stderr()).to.include("Error: Cannot import application './nope.js:app'");
      expect(r.stderr()).to.match(/worker \d+ exited \(code 1\) before serving; stopping/);
    });
  });
});
