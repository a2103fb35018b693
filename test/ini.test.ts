import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import sinon from 'sinon';
import { loadApp, loadIniApp, splitConfigSpec } from '../src/app-loader.js';
import { ConfigFileError } from '../src/errors.js';
import { parseIni, readIni, serverOptionsFromIni } from '../src/ini.js';

/** Compiled fixture apps (next to this build's test directory). */
const APPS = path.resolve(__dirname, '..', 'fixtures', 'cli-apps.js');

/** Call an app with a minimal environ and return its status and body text. */
async function call(app: unknown, environ: Record<string, unknown> = {}): Promise<{ status: string; body: string }> {
  let status = '';
  const result = await (app as (e: unknown, s: unknown) => Promise<AsyncIterable<Uint8Array> | Iterable<Uint8Array>>)(
    { SCRIPT_NAME: '', PATH_INFO: '/x', QUERY_STRING: '', ...environ },
    (s: string) => {
      status = s;
      return () => undefined;
    },
  );
  const chunks: Uint8Array[] = [];
  for await (const chunk of result) chunks.push(chunk);
  return { status, body: Buffer.concat(chunks).toString() };
}

function expectConfigError(fn: () => unknown, message: string | RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).to.be.instanceOf(ConfigFileError);
  if (typeof message === 'string') expect((caught as Error).message).to.equal(message);
  else expect((caught as Error).message).to.match(message);
}

async function expectConfigRejection(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught).to.be.instanceOf(ConfigFileError);
  if (typeof message === 'string') expect((caught as Error).message).to.equal(message);
  else expect((caught as Error).message).to.match(message);
}

describe('ini files', () => {
  let dir: string;
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'garcon-ini-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('syntax', () => {
    it('reads sections, = and : separators, comments, continuation lines and CRLF', () => {
      const ini = parseIni(
        '# comment\r\n; another\r\n[server:main]\r\nhost = 127.0.0.1\r\nport: 8080\r\nlisten = a:1\r\n  b:2\r\n\r\n[app:main]\r\nuse = file:./app.js#app\r\n',
        '/etc/x.ini',
      );
      expect(ini.sectionNames).to.deep.equal(['server:main', 'app:main']);
      expect([...ini.section('server:main')]).to.deep.equal([
        ['host', '127.0.0.1'],
        ['port', '8080'],
        ['listen', 'a:1\nb:2'],
      ]);
    });

    it('keeps the case of keys and section names', () => {
      const ini = parseIni('[App:Main]\nKey = v\n', '/x.ini');
      expect(ini.has('App:Main')).to.equal(true);
      expect(ini.has('app:main')).to.equal(false);
      expect(ini.section('App:Main').get('Key')).to.equal('v');
    });

    it('reports the file and line of syntax errors', () => {
      expectConfigError(() => parseIni('key = v\n', '/x.ini'), '/x.ini:1: a key outside any [section]');
      expectConfigError(() => parseIni('[a]\njunk\n', '/x.ini'), '/x.ini:2: expected "key = value" in [a], got "junk"');
      expectConfigError(() => parseIni('[a\n', '/x.ini'), '/x.ini:1: bad section header "[a"');
      expectConfigError(() => parseIni('[a]\n[a]\n', '/x.ini'), '/x.ini:2: section [a] appears twice');
      expectConfigError(() => parseIni('[a]\nk = 1\nk = 2\n', '/x.ini'), '/x.ini:3: key "k" appears twice in [a]');
      expectConfigError(() => parseIni('[a]\n = 1\n', '/x.ini'), '/x.ini:2: empty key in [a]');
      expectConfigError(
        () => parseIni('[a]\nlisten =\n    127.0.0.1:1\n\n    127.0.0.1:2\n', '/x.ini'),
        '/x.ini:5: a blank line inside the multi-line value of "listen" in [a] (a blank line ends a value: remove it)',
      );
      // After a blank line, an unindented key is fine, and so are indented keys after single-line values (as in configparser).
      expect(parseIni('[a]\nk =\n  1\n\nj = 2\n', '/x.ini').section('a').get('j')).to.equal('2');
      expect([...parseIni('[a]\n    host = h\n\n    port = 1\n', '/x.ini').section('a')]).to.deep.equal([['host', 'h'], ['port', '1']]);
    });

    it('continues a value only with lines indented further than its key, as ConfigParser does', () => {
      // Keys indented alike are keys: folding them into the first one dropped a listen, which then bound every address.
      const ini = parseIni('[server:main]\n  server_name = example.com\n  threads = 1\n  listen =\n      127.0.0.1:1\n      [::1]:1\n', '/x.ini');
      expect([...ini.section('server:main')]).to.deep.equal([
        ['server_name', 'example.com'],
        ['threads', '1'],
        ['listen', '\n127.0.0.1:1\n[::1]:1'],
      ]);
      expectConfigError(
        () => parseIni('[a]\n  listen =\n    127.0.0.1:1\n\n    127.0.0.1:2\n', '/x.ini'),
        '/x.ini:5: a blank line inside the multi-line value of "listen" in [a] (a blank line ends a value: remove it)',
      );
    });

    it('allows a comment after a section header', () => {
      expect(parseIni('[server:main]  # the server\nport = 1\n[app:main] ; the app\n', '/x.ini').sectionNames).to.deep.equal(['server:main', 'app:main']);
      expectConfigError(() => parseIni('[a] junk\n', '/x.ini'), '/x.ini:1: bad section header "[a] junk"');
    });

    it('reports an unreadable file', () => {
      expectConfigError(() => readIni(path.join(dir, 'missing.ini')), /^Cannot read config file .*missing\.ini: ENOENT$/);
    });

    it('reports a missing section', () => {
      expectConfigError(() => parseIni('[a]\n', '/x.ini').section('b'), '/x.ini: no section [b]');
    });
  });

  describe('interpolation', () => {
    it('knows here, __file__, [DEFAULT] and the section keys; %% is a %', () => {
      const ini = parseIni(
        '[DEFAULT]\nroot = %(here)s/data\n[app:main]\nlogs = %(root)s/logs\nself = %(__file__)s\nrate = 50%%\nboth = %(logs)s+%(rate)s\n',
        '/srv/site/app.ini',
      );
      expect(Object.fromEntries(ini.section('app:main'))).to.deep.equal({
        logs: '/srv/site/data/logs',
        self: '/srv/site/app.ini',
        rate: '50%',
        both: '/srv/site/data/logs+50%',
      });
      expect(ini.defaults.get('root')).to.equal('/srv/site/data');
    });

    it('leaves keys of [DEFAULT] out of the section (PasteDeploy global conf)', () => {
      const ini = parseIni('[DEFAULT]\ndebug = true\n[app:main]\ndebug = false\nother = 1\n', '/x.ini');
      expect(Object.fromEntries(ini.section('app:main'))).to.deep.equal({ other: '1' });
    });

    it('names the file, section and key of a bad reference', () => {
      expectConfigError(() => parseIni('[a]\nk = %(nope)s\n', '/x.ini').section('a'), '/x.ini [a] k: %(nope)s names no key of [a] or [DEFAULT]');
      expectConfigError(() => parseIni('[a]\nk = 5%\n', '/x.ini').section('a'), '/x.ini [a] k: bad interpolation at "%" (use %(name)s, or %% for a %)');
      expectConfigError(() => parseIni('[a]\nk = %(k)s\n', '/x.ini').section('a'), /^\/x\.ini \[a\] k: interpolation is nested too deeply/);
    });
  });

  describe('server options', () => {
    it('maps snake_case keys to options, checking each value', () => {
      const ini = parseIni(
        '[server:main]\nuse = egg:waitress#main\nlisten = 127.0.0.1:8080 [::1]:8080\nthreads = 8\ntrusted_proxy_headers = x-forwarded-for x-forwarded-proto\nunix_socket_perms = 660\n[logger_garcon]\nlevel = INFO\n',
        '/x.ini',
      );
      expect(serverOptionsFromIni(ini)).to.deep.equal({
        listen: '127.0.0.1:8080 [::1]:8080',
        threads: '8',
        trustedProxyHeaders: 'x-forwarded-for x-forwarded-proto',
        unixSocketPerms: '660',
        logLevel: 'INFO',
      });
    });

    it('reads [server:NAME], falling back to [server:main]; needs one unless the command line names a listener', () => {
      const ini = parseIni('[server:main]\nport = 1\n[server:alt]\nport = 2\n', '/x.ini');
      expect(serverOptionsFromIni(ini, 'alt')).to.deep.equal({ port: '2' });
      expect(serverOptionsFromIni(ini, 'other')).to.deep.equal({ port: '1' });
      const appOnly = parseIni('[app:main]\nuse = file:a.js\n', '/x.ini');
      expect(serverOptionsFromIni(appOnly, 'main', true)).to.deep.equal({});
      expectConfigError(() => serverOptionsFromIni(appOnly), '/x.ini has no [server:main] section: add one (with listen = HOST:PORT), or give --listen on the command line');
      expectConfigError(() => serverOptionsFromIni(appOnly, 'alt'), /^\/x\.ini has no \[server:alt\] or \[server:main\] section/);
      expectConfigError(() => serverOptionsFromIni(parseIni('[server:other]\nport = 1\n', '/x.ini'), 'alt'), /^\/x\.ini has no \[server:alt\] or \[server:main\] section/);
    });

    it('get and set in a server section are refused, naming the key', () => {
      expectConfigError(
        () => serverOptionsFromIni(parseIni('[server:main]\nset threads = 2\n', '/x.ini')),
        '/x.ini [server:main] set threads: get and set are not supported in a server section; write the value, or %(name)s from [DEFAULT]',
      );
    });

    it('a server key that [DEFAULT] sets too is an error, not dropped (a dropped listen would bind every address)', () => {
      const ini = parseIni('[DEFAULT]\nlisten = 127.0.0.1:0\n[server:main]\nthreads = 2\nlisten = 127.0.0.1:0\n', '/x.ini');
      expectConfigError(() => serverOptionsFromIni(ini), /^\/x\.ini \[server:main\] listen: \[DEFAULT\] sets listen too, .* neither value would reach the server/);
      // A [DEFAULT] key the server section only refers to is fine.
      const referred = parseIni('[DEFAULT]\naddr = 127.0.0.1:0\n[server:main]\nlisten = %(addr)s\n', '/x.ini');
      expect(serverOptionsFromIni(referred)).to.deep.equal({ listen: '127.0.0.1:0' });
    });

    it('a server section spelt in another case is an error, not ignored', () => {
      for (const name of ['Server:main', 'SERVER:main']) {
        const ini = parseIni(`[${name}]\nlisten = 127.0.0.1:8080\n[app:main]\nuse = file:a.js\n`, '/x.ini');
        expectConfigError(() => serverOptionsFromIni(ini, 'main', true), `/x.ini [${name}]: section names are case-sensitive; write [server:main]`);
      }
    });

    it('use: Waitress\'s and garcon\'s eggs in any case, with or without #main', () => {
      for (const use of ['egg:waitress', 'egg:Waitress#main', 'egg:garcon', 'EGG:GARCON#MAIN', 'waitress']) {
        expect(serverOptionsFromIni(parseIni(`[server:main]\nuse = ${use}\nport = 1\n`, '/x.ini'))).to.deep.equal({ port: '1' });
      }
    });

    it('names the file, section and key of a bad entry', () => {
      expectConfigError(() => serverOptionsFromIni(parseIni('[server:main]\nbogus = 1\n', '/x.ini')), '/x.ini [server:main] bogus: unknown option');
      expectConfigError(
        () => serverOptionsFromIni(parseIni('[server:main]\nmaxRequestBodySize = 1\n', '/x.ini')),
        '/x.ini [server:main] maxRequestBodySize: unknown option (ini keys use underscores: max_request_body_size)',
      );
      expectConfigError(() => serverOptionsFromIni(parseIni('[server:main]\nlogger = x\n', '/x.ini')), '/x.ini [server:main] logger: "logger" can only be given in code');
      expectConfigError(
        () => serverOptionsFromIni(parseIni('[server:main]\nthreads = many\n', '/x.ini')),
        '/x.ini [server:main] threads: Invalid value for option "threads": "many" is not an integer',
      );
      expectConfigError(
        () => serverOptionsFromIni(parseIni('[server:main]\nuse = egg:gunicorn#main\n', '/x.ini')),
        '/x.ini [server:main] use: garcon serves with "egg:garcon#main", not "egg:gunicorn#main"',
      );
      expectConfigError(
        () => serverOptionsFromIni(parseIni('[logger_garcon]\nlevel = LOUD\n', '/x.ini'), 'main', true),
        /^\/x\.ini \[logger_garcon\] level: Invalid value for option "logLevel": "LOUD" is not one of/,
      );
    });
  });

  describe('loading applications', () => {
    it('loads [app:main] with use = file:PATH#EXPORT relative to the file (CommonJS too)', async () => {
      write('plain.js', "exports.hello = (e, start) => { start('200 OK', []); return [Buffer.from('plain ' + e.PATH_INFO)]; };\n");
      const file = write('app.ini', '[app:main]\nuse = file:plain.js#hello\n');
      expect(await call(await loadApp(`config:${file}`))).to.deep.equal({ status: '200 OK', body: 'plain /x' });
      expect(await call(await loadApp('config:app.ini', { relativeTo: dir }))).to.deep.equal({ status: '200 OK', body: 'plain /x' });
    });

    it('runs a pipeline: the first filter listed is the outermost', async () => {
      const file = write(
        'p.ini',
        `[pipeline:main]\npipeline = shout tag app\n\n[filter:tag]\nuse = call:${APPS}:tagFilter\ntag = t1\n\n` +
          `[filter:shout]\nuse = file:${APPS}#upper\n\n[app:app]\nuse = file:${APPS}#app\n`,
      );
      expect((await call(await loadApp(`config:${file}`))).body).to.match(/^HELLO FROM \d+ \|\/X \+T1$/);
    });

    it('passes global and local conf to call: factories (set, get, DEFAULT)', async () => {
      const file = write(
        'f.ini',
        `[DEFAULT]\ncolour = blue\nsize = big\n[app:main]\nuse = call:${APPS}:appFactory\nname = demo\nset size = small\nget picked = colour\n`,
      );
      const out = JSON.parse((await call(await loadApp(`config:${file}`))).body) as { global: Record<string, string>; local: Record<string, string> };
      expect(out.local).to.deep.equal({ name: 'demo', picked: 'blue' });
      expect(out.global).to.include({ colour: 'blue', size: 'small', here: dir, __file__: file });
    });

    it('wraps an app with filter-with and chooses the app by #name', async () => {
      const file = write('w.ini', `[app:other]\nuse = file:${APPS}#app\nfilter-with = up\n[filter:up]\nuse = file:${APPS}#upper\n`);
      const { file: f, name } = splitConfigSpec(`${file}#other`);
      expect(name).to.equal('other');
      expect((await call(await loadApp(`config:${f}`, { name }))).body).to.match(/^HELLO FROM \d+ \|\/X$/);
      expect((await call(await loadApp(`config:${file}#other`))).body).to.match(/^HELLO FROM/);
    });

    it('follows use = config:OTHER#NAME and [filter-app:NAME]', async () => {
      write('inner.ini', `[app:inside]\nuse = file:${APPS}#app\n`);
      const file = write('outer.ini', '[filter-app:main]\nuse = file:' + APPS + '#upper\nnext = real\n[app:real]\nuse = config:inner.ini#inside\n');
      expect((await call(await loadIniApp(readIni(file)))).body).to.match(/^HELLO FROM \d+/);
    });

    it('has the built-in filters of Waitress users\' ini files: PasteDeploy\'s prefix, Paste\'s translogger (egg names in any case)', async () => {
      const file = write(
        'b.ini',
        `[pipeline:main]\npipeline = log mount app\n[filter:log]\nuse = egg:Paste#translogger\nformat = %%(REQUEST_METHOD)s %%(REQUEST_URI)s %%(status)s\n` +
          `[filter:mount]\nuse = egg:pastedeploy#prefix\nprefix = /blog\n[app:app]\nuse = file:${APPS}#app\n`,
      );
      const stderr = sinon.stub(process.stderr, 'write').returns(true);
      let out: { status: string; body: string };
      try {
        out = await call(await loadApp(`config:${file}`), { REQUEST_METHOD: 'GET', PATH_INFO: '/blog/post', QUERY_STRING: 'a=1' });
      } finally {
        stderr.restore();
      }
      expect(out.body).to.match(/^hello from \d+ \/blog\|\/post$/);
      // The logger is outside the prefix filter: it logs the path as it came.
      expect(stderr.args.map(([text]) => String(text))).to.include('GET /blog/post?a=1 200\n');
    });

    it('names the file, section and key when something is wrong', async () => {
      const bad = async (text: string, message: string | RegExp) => {
        await expectConfigRejection(loadApp(`config:${write('bad.ini', text)}`), message);
      };
      const f = path.join(dir, 'bad.ini');
      await bad('[app:other]\nuse = file:x.js\n', `${f}: ${f} has no [app:main] or [pipeline:main] section`);
      await bad('[app:main]\nfoo = 1\n', `${f} [app:main]: missing "use" (file:, package:, call: or config:)`);
      await bad('[app:main]\nuse = ftp:x\n', `${f} [app:main] use: "ftp:x" is not file:PATH#EXPORT, package:NAME#EXPORT, call:MODULE:EXPORT or config:FILE#NAME`);
      await bad('[app:main]\nuse = http://x\n', /^.*\[app:main\] use: "http:\/\/x" is not file:PATH/);
      await bad(`[app:main]\nuse = file:${APPS}#app\ncolour = red\n`, `${f} [app:main] colour: settings need a factory to receive them (use = call:MODULE:EXPORT)`);
      await bad(`[app:main]\nuse = file:${APPS}#notAFunction\n`, `${f} [app:main] use: the application is string, not a function`);
      await bad(`[pipeline:main]\npipeline = nope app\n[app:app]\nuse = file:${APPS}#app\n`, `${f} [pipeline:main] pipeline: ${f} has no [filter:nope] section`);
      await bad('[pipeline:main]\npipeline =\n', `${f} [pipeline:main] pipeline: names no application`);
      await bad('[pipeline:main]\npipeline = app\nextra = 1\n', `${f} [pipeline:main] extra: a pipeline section takes only "pipeline"`);
      await bad('[composite:main]\nuse = egg:Paste#urlmap\n', `${f} [composite:main]: composite applications are not supported; use a pipeline or mount apps in code`);
      await bad('[app:main]\nuse = file:x.js\n[pipeline:main]\npipeline = main\n', `${f}: "main" is defined twice ([app:main], [pipeline:main])`);
      await bad('[app:main]\nuse = file:./missing.js#app\n', /^.*\[app:main\] use target 'file:\.\/missing\.js': cannot find module "\.\/missing\.js"$/);
      await bad(`[app:main]\nuse = file:${APPS}#nope\n`, /\[app:main\] use target 'file:.*cli-apps\.js': module has no export "nope"$/);
      await bad('[filter-app:main]\nuse = file:x.js\n', `${f} [filter-app:main]: missing "next" (the app to wrap)`);
      await bad(`[app:main]\nuse = call:${APPS}:notAFunction\n`, `${f} [app:main] use: the app factory is string, not a function`);
      await bad(`[app:main]\nuse = call:${APPS}\n`, `${f} [app:main] use target 'call:${APPS}': call: needs MODULE:FACTORY, the function to call`);
      await bad('[app:main]\npaste.app_factory = myapp:make\n', `${f} [app:main] paste.app_factory: not supported; write use = call:MODULE:FACTORY`);
      await bad(`[app:main]\nuse = file:${APPS}#app\nfilter-with = f\n[filter:f]\nuse = egg:garcon#gzip\n`, `${f} [filter:f] use: garcon has no built-in filter "gzip" (it has "prefix", "translogger")`);
      await bad(`[app:main]\nuse = file:${APPS}#app\nget x = nope\n`, `${f} [app:main] get x: [DEFAULT] has no "nope"`);
      const filtered = (filter: string) => `[app:main]\nuse = file:${APPS}#app\nfilter-with = f\n[filter:f]\n${filter}`;
      await bad(filtered('use = egg:PasteDeploy#prefix\nprefx = /a\n'), `${f} [filter:f] prefx: Unknown option "prefx" for the prefix filter (it takes prefix, translate_forwarded_server, force_port, scheme)`);
      await bad(filtered('use = egg:garcon#prefix\ntranslate_forwarded_server = perhaps\n'), /^.* \[filter:f\] translate_forwarded_server: "perhaps" is not a boolean/);
      await bad(filtered('use = egg:Paste#translogger\nformat = %%(nope)s\n'), /^.* \[filter:f\] format: "%\(nope\)s" has "%\(nope\)s"; a format may use %% and %\(NAME\)s of REMOTE_ADDR/);
      await bad(filtered('use = egg:Paste#translogger\nsetup_console_handler = false\n'), /\[filter:f\] setup_console_handler: .*use garcon's access_log option$/);
      await bad(filtered('use = egg:Paste#translogger\nlogger_name = wsgi\n'), /\[filter:f\] logger_name: Unknown option "logger_name" for the translogger filter/);
      await expectConfigRejection(loadApp('app.ini'), 'loadApp: "app.ini" is not a config:FILE.ini[#NAME] URI');
    });
  });
});
