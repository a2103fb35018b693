// Builds the raw environ for one request (PEP 3333 keys, Waitress's values).
// The adjustment pipeline (pipeline.ts) then applies proxy headers, url_prefix
// and hop-by-hop stripping before the app sees it.

import { fileWrapper } from './file-wrapper.js';
import type { ParsedRequest } from './request.js';
import type { Environ, ErrorStream } from './types.js';

/** REMOTE_ADDR of a unix-socket peer (contract decision 14, as in Waitress); what trustedProxy matches for it. */
export const UNIX_PEER_ADDRESS = 'localhost';

/** What the environ needs to know about the connection a request came on. */
export interface ConnectionInfo {
  remoteAddr: string;
  remotePort: string;
  /** The accepting listener's port, or the socket path for a unix socket. */
  serverPort: string;
  /** Returns true once the client is known to be gone (environ['garcon.client_disconnected']). */
  clientDisconnected: () => boolean;
}

/** The per-server values that end up in every environ. */
export interface EnvironSettings {
  serverName: string;
  urlScheme: string;
  ident: string | null;
  /** True when the server runs several worker processes (wsgi.multiprocess). */
  multiprocess: boolean;
}

/** Shared by every environ, so frozen: PEP 3333's (1, 0) is a tuple no app can change. */
const WSGI_VERSION: readonly [number, number] = Object.freeze([1, 0] as const);

/** wsgi.errors: the process's stderr, as PEP 3333 asks for a text stream. */
const errorStream: ErrorStream = {
  write: (text: string) => process.stderr.write(text),
  writelines: (lines: Iterable<string>) => {
    for (const line of lines) process.stderr.write(line);
  },
  flush: () => undefined,
};

/** Collapse leading slashes to one, as Waitress does (`///a` -> `/a`, `//x//y` -> `/x//y`). */
export function collapseLeadingSlashes(path: string): string {
  if (path.charCodeAt(0) !== 0x2f || path.charCodeAt(1) !== 0x2f) return path;
  let i = 1;
  while (path.charCodeAt(i) === 0x2f) i++;
  return path.slice(i - 1);
}

export function buildEnviron(request: ParsedRequest, conn: ConnectionInfo, settings: EnvironSettings): Environ {
  const environ: Environ = {
    REQUEST_METHOD: request.method,
    SCRIPT_NAME: '',
    PATH_INFO: collapseLeadingSlashes(request.path),
    QUERY_STRING: request.query,
    REQUEST_URI: request.target,
    RAW_URI: request.target,
    SERVER_NAME: settings.serverName,
    SERVER_PORT: conn.serverPort,
    SERVER_PROTOCOL: request.version === '1.1' ? 'HTTP/1.1' : 'HTTP/1.0',
    SERVER_SOFTWARE: settings.ident ?? '',
    REMOTE_ADDR: conn.remoteAddr,
    REMOTE_HOST: conn.remoteAddr,
    REMOTE_PORT: conn.remotePort,
    'wsgi.version': WSGI_VERSION,
    'wsgi.url_scheme': settings.urlScheme,
    'wsgi.input': request.input(),
    'wsgi.input_terminated': true,
    'wsgi.errors': errorStream,
    'wsgi.multithread': true,
    'wsgi.multiprocess': settings.multiprocess,
    'wsgi.run_once': false,
    'wsgi.file_wrapper': fileWrapper,
    'garcon.client_disconnected': conn.clientDisconnected,
  };
  // Header keys are all CONTENT_* or HTTP_*, so they can never shadow the keys above
  // (nor be __proto__: names with '_' are dropped). Object.assign copies them in one builtin.
  return Object.assign(environ, request.headers);
}

/**
 * Remove `keys` from the environ, the other keys keeping their order. Not a
 * `delete` in the middle of the object: V8 then moves it to dictionary mode,
 * which cost about 1 µs a request here (a quarter of a request with a proxy
 * header from an untrusted peer) and slows every later property access of the
 * app. Deleting the last-added property only steps its hidden class back, so
 * the environ's tail, from the first key removed on, is taken off from the end
 * and the kept keys are put back in order.
 */
export function removeKeys(environ: Environ, keys: readonly string[]): void {
  // A Set: a Connection value may name tens of thousands of options, and a head
  // may hold as many fields (indexOf/includes made this O(options x fields)).
  const drop = new Set(keys);
  const names = Object.keys(environ);
  let first = 0;
  while (first < names.length && !drop.has(names[first]!)) first++;
  if (first === names.length) return;
  const kept: [string, unknown][] = [];
  for (let i = first; i < names.length; i++) {
    const name = names[i]!;
    if (!drop.has(name)) kept.push([name, environ[name]]);
  }
  for (let i = names.length - 1; i >= first; i--) delete environ[names[i]!];
  for (const [name, value] of kept) environ[name] = value;
}
