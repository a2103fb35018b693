// Integration harness: start a real nginx or Apache httpd from the system's
// packages in a private temp dir, in front of a garcon on loopback, with the
// configuration files shipped in nginx/ filled in; talk to them as a client
// from another loopback address; tear everything down whatever happened.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** The repository root (this file runs from <root>/<build dir>/test/integration). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const NGINX_DIR = path.join(ROOT, 'nginx');

/** The client's address: not nginx's (127.0.0.1), so "the real client address" is observable. */
export const CLIENT_ADDRESS = '127.0.0.2';
/** The host name the client types; nothing resolves it, the client sends it in Host. */
export const PUBLIC_HOST = 'public.example';
/** The proxy headers garcon is told to trust behind nginx and Apache. */
export const PROXY_HEADERS = 'x-forwarded-for x-forwarded-proto x-forwarded-host x-forwarded-port';

const INSTALL_HINT = 'install them with: apt-get install nginx apache2';

/** Bound on every wait for a process: to listen, or to exit. */
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

// Binaries -----------------------------------------------------------------------

const BINARIES: Record<'nginx' | 'apache2', string[]> = {
  nginx: ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'],
  apache2: ['/usr/sbin/apache2', '/usr/local/sbin/apache2'],
};

function findBinary(name: 'nginx' | 'apache2'): string | null {
  for (const candidate of BINARIES[name]) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not there: try the next place
    }
  }
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const located = found.status === 0 ? found.stdout.trim() : '';
  return located === '' ? null : located;
}

/**
 * The path of `name`, or: under CI a failure saying what to install, locally a
 * loud message and a skip of the calling suite. Never a silent pass.
 */
export function requireBinary(context: Mocha.Context, name: 'nginx' | 'apache2'): string {
  const binary = findBinary(name);
  if (binary !== null) return binary;
  const message = `${name} is not installed, so the ${name} integration tests cannot run; ${INSTALL_HINT}`;
  if (process.env.CI === 'true') throw new Error(message);
  const bar = '!'.repeat(message.length + 8);
  console.warn(`\n${bar}\n!!! SKIPPED: ${message}\n${bar}\n`);
  context.skip();
}

// Temp dirs and templates ----------------------------------------------------------

export function makeTempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `garcon-${label}-`));
}

export function removeTempDir(dir: string | undefined): void {
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Fill `${NAME}` placeholders the way the nginx image's envsubst step does, and
 * refuse to leave one unfilled (nginx would read it as a variable and fail later,
 * or worse, not fail).
 */
export function renderTemplate(text: string, values: Record<string, string>): string {
  const rendered = text.replace(/\$\{([A-Z][A-Z0-9_]*)\}/g, (whole, name: string) => values[name] ?? whole);
  const left = /\$\{([A-Z][A-Z0-9_]*)\}/.exec(rendered);
  if (left) throw new Error(`template placeholder ${left[0]} has no value`);
  return rendered;
}

/** A self-signed certificate for `host` (CN and subjectAltName), made with openssl. */
export function makeCertificate(dir: string, host: string): { cert: string; key: string } {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const made = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '1',
    '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`,
    '-keyout', key, '-out', cert,
  ], { encoding: 'utf8', timeout: START_TIMEOUT_MS });
  if (made.status !== 0) {
    throw new Error(`openssl could not make a certificate (${made.error?.message ?? `exit ${made.status}`}): ${made.stderr}`);
  }
  return { cert, key };
}

// Processes ---------------------------------------------------------------------------

/** Children still running, killed if the test process exits without tearing them down. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface Daemon {
  readonly port: number;
  /** Stop the process (bounded) and remove its temp dir. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (the kernel's pick, released for the daemon to take). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address() as net.AddressInfo;
      probe.close(() => resolve(address.port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Poll `port` until it accepts, the child dies, or the bound passes. */
async function waitUntilListening(child: ChildProcess, port: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited(child)) throw new Error(`exited before listening on ${port}:\n${describe()}`);
    if (await canConnect(port)) return;
    if (Date.now() > deadline) throw new Error(`not listening on ${port} after ${START_TIMEOUT_MS} ms:\n${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** SIGTERM, then SIGKILL if it has not exited within the bound. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (!exited(child)) {
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS);
    });
    if ((await Promise.race([gone, late])) === 'late') {
      child.kill('SIGKILL');
      await gone;
    }
    clearTimeout(timer);
  }
  running.delete(child);
}

function readIfThere(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

async function startDaemon(
  command: string, args: string[], env: NodeJS.ProcessEnv, dir: string, port: number, errorLog: string,
): Promise<Daemon> {
  const child = spawn(command, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.on('error', (err) => {
    output += `spawn failed: ${err.message}\n`;
  });
  // stderr and the error log so far, for the message when it does not come up.
  const diagnostics = () => `$ ${command} ${args.join(' ')}\n${output}${readIfThere(errorLog)}`;
  const daemon: Daemon = {
    port,
    stop: async () => {
      await stopChild(child);
      removeTempDir(dir);
    },
  };
  try {
    await waitUntilListening(child, port, diagnostics);
  } catch (err) {
    await stopChild(child);
    removeTempDir(dir);
    throw err;
  }
  return daemon;
}

// nginx ----------------------------------------------------------------------------------

export interface NginxSite {
  /** A file name under nginx/templates/. */
  template: string;
  /** Placeholder values; NGINX_LISTEN is filled in with the chosen port. */
  values: Record<string, string>;
  /** Files (e.g. a certificate) to make in the temp dir first; returns more placeholder values. */
  prepare?: (dir: string) => Record<string, string>;
}

/**
 * Start nginx in the foreground, one process (master_process off), everything it
 * writes inside a temp dir: the shipped template rendered into site.conf, and
 * nginx/proxy-headers.conf copied to garcon/proxy-headers.conf beside it, where
 * the templates include it from (as /etc/nginx/garcon/ in a real install).
 */
export async function startNginx(binary: string, site: NginxSite): Promise<Daemon> {
  const dir = makeTempDir('nginx');
  try {
    const port = await freePort();
    const extra = site.prepare ? site.prepare(dir) : {};
    const template = fs.readFileSync(path.join(NGINX_DIR, 'templates', site.template), 'utf8');
    const values = { NGINX_LISTEN: `127.0.0.1:${port}`, NGINX_SERVER_NAME: PUBLIC_HOST, ...site.values, ...extra };
    fs.writeFileSync(path.join(dir, 'site.conf'), renderTemplate(template, values));
    fs.mkdirSync(path.join(dir, 'garcon'));
    fs.copyFileSync(path.join(NGINX_DIR, 'proxy-headers.conf'), path.join(dir, 'garcon', 'proxy-headers.conf'));
    const errorLog = path.join(dir, 'error.log');
    const temp = (name: string) => path.join(dir, name);
    fs.writeFileSync(path.join(dir, 'nginx.conf'), [
      // As root nginx would hand its temp dirs to "nobody"; keep them ours.
      process.getuid?.() === 0 ? 'user root;' : '',
      'worker_processes 1;',
      `pid ${temp('nginx.pid')};`,
      `lock_file ${temp('nginx.lock')};`,
      `error_log ${errorLog} warn;`,
      'events { worker_connections 512; }',
      'http {',
      `  access_log ${temp('access.log')};`,
      // The compiled-in temp paths are under /var/lib/nginx: never touch them.
      `  client_body_temp_path ${temp('client_body')};`,
      `  proxy_temp_path ${temp('proxy')};`,
      `  fastcgi_temp_path ${temp('fastcgi')};`,
      `  uwsgi_temp_path ${temp('uwsgi')};`,
      `  scgi_temp_path ${temp('scgi')};`,
      '  include site.conf;',
      '}',
      '',
    ].join('\n'));
    const args = ['-p', dir, '-e', errorLog, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off; master_process off;'];
    return await startDaemon(binary, args, process.env, dir, port, errorLog);
  } catch (err) {
    removeTempDir(dir);
    throw err;
  }
}

// Apache httpd ---------------------------------------------------------------------------

const APACHE_MODULES = '/usr/lib/apache2/modules';

/**
 * A minimal server config for Debian's apache2 in `dir` (temp ServerRoot, pid file, logs,
 * runtime dir; mpm_event; the proxy modules) listening on 127.0.0.1:`port` and including
 * `site`; returns its path.
 */
function writeApacheConfig(dir: string, port: number, site: string): string {
  const load = (name: string, file: string) => `LoadModule ${name}_module ${APACHE_MODULES}/${file}`;
  const file = path.join(dir, 'httpd.conf');
  fs.writeFileSync(file, [
    `ServerRoot ${dir}`,
    `PidFile ${path.join(dir, 'httpd.pid')}`,
    `DefaultRuntimeDir ${dir}`,
    `ErrorLog ${path.join(dir, 'error.log')}`,
    'LogLevel warn',
    load('mpm_event', 'mod_mpm_event.so'),
    load('authz_core', 'mod_authz_core.so'),
    load('headers', 'mod_headers.so'),
    load('proxy', 'mod_proxy.so'),
    load('proxy_http', 'mod_proxy_http.so'),
    // httpd will not serve as root: its child takes this user, and needs no file of ours.
    process.getuid?.() === 0 ? 'User nobody\nGroup nogroup' : '',
    // One child with a few threads: enough for sequential tests, light on a shared machine.
    'StartServers 1',
    'ServerLimit 1',
    'ThreadsPerChild 8',
    'MaxRequestWorkers 8',
    'MinSpareThreads 1',
    'MaxSpareThreads 16',
    `Listen 127.0.0.1:${port}`,
    'ServerName localhost',
    `Include ${site}`,
    '',
  ].join('\n'));
  return file;
}

/**
 * Start Apache httpd in the foreground with its own minimal server config that
 * includes nginx/apache/garcon.conf as shipped, its ${...} placeholders given
 * through the environment as Apache reads them.
 */
export async function startApache(binary: string, values: Record<string, string>): Promise<Daemon> {
  const dir = makeTempDir('apache');
  try {
    const port = await freePort();
    const config = writeApacheConfig(dir, port, path.join(NGINX_DIR, 'apache', 'garcon.conf'));
    const env = { ...process.env, APACHE_VHOST: `127.0.0.1:${port}`, APACHE_SERVER_NAME: PUBLIC_HOST, ...values };
    return await startDaemon(binary, ['-f', config, '-DFOREGROUND'], env, dir, port, path.join(dir, 'error.log'));
  } catch (err) {
    removeTempDir(dir);
    throw err;
  }
}

/** `apache2 -t` on `site` (text of a site config) inside the minimal server config: Apache's verdict and its output. */
export function checkApacheSyntax(binary: string, site: string): { ok: boolean; output: string } {
  const dir = makeTempDir('apache-syntax');
  try {
    const file = path.join(dir, 'site.conf');
    fs.writeFileSync(file, site);
    const result = spawnSync(binary, ['-t', '-f', writeApacheConfig(dir, 1, file)], { encoding: 'utf8' });
    return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
  } finally {
    removeTempDir(dir);
  }
}

// The client ---------------------------------------------------------------------------------

export interface ClientResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface ClientRequest {
  port: number;
  path: string;
  method?: string;
  /** Host header; default public.example:<port>. */
  host?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Trust this CA and speak TLS (SNI public.example). */
  ca?: string;
  timeout?: number;
}

/** One request on a fresh connection from CLIENT_ADDRESS; the whole response body in memory. */
export function request(options: ClientRequest): Promise<ClientResponse> {
  const common: https.RequestOptions = {
    host: '127.0.0.1',
    port: options.port,
    localAddress: CLIENT_ADDRESS,
    method: options.method ?? 'GET',
    path: options.path,
    agent: false,
    headers: { Host: options.host ?? `${PUBLIC_HOST}:${options.port}`, ...options.headers },
  };
  return new Promise((resolve, reject) => {
    const req = options.ca === undefined
      ? http.request(common)
      : https.request({ ...common, ca: options.ca, servername: PUBLIC_HOST });
    req.setTimeout(options.timeout ?? 10_000, () => req.destroy(new Error(`no answer to ${options.path} in time`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.end(options.body);
  });
}

/** The environ the echo fixture answered with. */
export function environOf(response: ClientResponse): Record<string, string> {
  if (response.status !== 200) throw new Error(`expected 200 from the echo app, got ${response.status}: ${response.body.toString('utf8')}`);
  return JSON.parse(response.body.toString('utf8')) as Record<string, string>;
}

/**
 * The URL an app rebuilds from its environ (PEP 3333's URL reconstruction, the
 * way WSGI frameworks generate absolute links).
 */
export function requestUrl(environ: Record<string, string>): string {
  const scheme = environ['wsgi.url_scheme'] ?? 'http';
  let url = `${scheme}://`;
  if (environ.HTTP_HOST) {
    url += environ.HTTP_HOST;
  } else {
    url += environ.SERVER_NAME;
    const defaultPort = scheme === 'https' ? '443' : '80';
    if (environ.SERVER_PORT !== defaultPort) url += `:${environ.SERVER_PORT}`;
  }
  url += encodeURI(environ.SCRIPT_NAME ?? '') + encodeURI(environ.PATH_INFO ?? '');
  if (environ.QUERY_STRING) url += `?${environ.QUERY_STRING}`;
  return url;
}
