// PrefixMiddleware: a port of PasteDeploy's `egg:PasteDeploy#prefix` filter
// (spec section 9.2) for apps mounted below a path on a reverse proxy. Fixed
// on the way: the prefix is literal text matched by whole path segments (the
// original used it as a regular expression, so `/james` also cut `/jamesbond`),
// forcePort keeps bracketed IPv6 hosts whole, and the port implied by an empty
// forcePort follows the scheme the app will finally see. Its header translation
// is off by default (PasteDeploy's is on): it checks no trust, and two of its
// headers, X-Forwarded-Server and X-Forwarded-Scheme, are unknown to garcon's
// trusted-proxy stage, so any client could set SERVER_NAME, HTTP_HOST and the
// scheme with them; that stage already takes X-Forwarded-For/-Host/-Proto from
// trusted proxies.

import { booleanOf } from '../src/adjustments.js';
import { InvalidOptionError } from '../src/errors.js';
import { isPortNumber, isValidHost } from '../src/request-target.js';
import type { App, Environ, Middleware } from '../src/types.js';
import { pathForm } from '../src/url-prefix.js';

export interface PrefixOptions {
  /**
   * Where the app is mounted, e.g. '/blog'; trailing slashes are dropped, '/' (the default) means none.
   * Percent-escapes and non-ASCII text are read as garcon's urlPrefix reads them: '/my%20app' and
   * '/café' match the decoded path a browser's '/my%20app/' and '/caf%C3%A9/' give.
   */
  prefix?: string;
  /** Force `wsgi.url_scheme` ('http' or 'https'), whatever the proxy headers said. */
  scheme?: string;
  /**
   * Force the public port: a port number makes `HTTP_HOST` host:port and sets `SERVER_PORT`;
   * '' removes the port from `HTTP_HOST` and sets `SERVER_PORT` to the scheme's default.
   */
  forcePort?: string | number;
  /**
   * Take X-Forwarded-Server, -Host, -For and -Scheme/-Proto into the environ (default false;
   * PasteDeploy's default is true). This step checks no trust, and garcon's proxy stage does
   * not know X-Forwarded-Server and X-Forwarded-Scheme, so it removes neither: turn this on
   * only when the proxy in front sets both itself, replacing what a client sent (nginx:
   * `proxy_set_header X-Forwarded-Server $host;` and `proxy_set_header X-Forwarded-Scheme
   * $scheme;`). X-Forwarded-Server's last element, the nearest proxy's, is used.
   */
  translateForwardedServer?: boolean;
}

const SLASH = 0x2f;
const SP = 0x20;
const HTAB = 0x09;

function stripTrailingSlashes(prefix: string): string {
  let end = prefix.length;
  while (end > 0 && prefix.charCodeAt(end - 1) === SLASH) end--;
  return prefix.slice(0, end);
}

/** How options are named in error messages: camelCase from code, snake_case from an ini file. */
type OptionNames = { readonly [K in keyof PrefixOptions]-?: string };

const API_NAMES: OptionNames = {
  prefix: 'prefix',
  scheme: 'scheme',
  forcePort: 'forcePort',
  translateForwardedServer: 'translateForwardedServer',
};
const INI_NAMES: OptionNames = {
  prefix: 'prefix',
  scheme: 'scheme',
  forcePort: 'force_port',
  translateForwardedServer: 'translate_forwarded_server',
};

/** PrefixOptions checked and normalised once, when the middleware is built. */
interface ResolvedOptions {
  /** In PATH_INFO's form (url-prefix.ts pathForm); '' for none. */
  readonly prefix: string;
  readonly scheme: string | null;
  readonly forcePort: string | null;
  readonly translate: boolean;
}

/** Options as they may come from JavaScript, JSON or the environment: each is checked, whatever its type. */
type UncheckedOptions = { readonly [K in keyof PrefixOptions]?: unknown };

function resolveOptions(options: UncheckedOptions, names: OptionNames): ResolvedOptions {
  return {
    prefix: options.prefix === undefined ? '' : checkPrefix(options.prefix, names.prefix),
    scheme: options.scheme === undefined ? null : checkScheme(options.scheme, names.scheme),
    forcePort: options.forcePort === undefined ? null : checkForcePort(options.forcePort, names.forcePort),
    translate: options.translateForwardedServer === undefined ? false : checkBool(options.translateForwardedServer, names.translateForwardedServer),
  };
}

function checkPrefix(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new InvalidOptionError(name, `${name} must be a string such as '/blog', got ${JSON.stringify(value)}`);
  const prefix = stripTrailingSlashes(value);
  if (prefix !== '' && prefix.charCodeAt(0) !== SLASH) {
    throw new InvalidOptionError(name, `${name} must start with '/', got ${JSON.stringify(value)}`);
  }
  return pathForm(prefix);
}

function checkScheme(value: unknown, name: string): string {
  const lower = typeof value === 'string' ? value.toLowerCase() : null;
  if (lower !== 'http' && lower !== 'https') {
    throw new InvalidOptionError(name, `${name} must be http or https, got ${JSON.stringify(value)}`);
  }
  return lower;
}

function checkForcePort(value: unknown, name: string): string {
  const text = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : null;
  if (text === '') return text;
  if (text === null || !isPortNumber(text)) {
    throw new InvalidOptionError(name, `${name} must be a port number (1-65535) or '', got ${JSON.stringify(value)}`);
  }
  return text;
}

/**
 * A boolean, or a word for one as garcon's own options take it ('false' from a config
 * file must not mean true); not '', which PasteDeploy's asbool refuses too.
 */
function checkBool(value: unknown, name: string): boolean {
  const parsed = typeof value === 'string' && value.trim() === '' ? undefined : booleanOf(value);
  if (parsed === undefined) {
    throw new InvalidOptionError(name, `${name}: ${JSON.stringify(value)} is not a boolean (use true/false, yes/no, on/off or 1/0)`);
  }
  return parsed;
}

/** PATH_INFO below the prefix: `/blog` owns `/blog` and `/blog/...` only; an empty result is '/'. */
function stripPrefix(path: string, prefix: string): string {
  let rest = path;
  if (prefix !== '' && path.startsWith(prefix)) {
    if (path.length === prefix.length) rest = '';
    else if (path.charCodeAt(prefix.length) === SLASH) rest = path.slice(prefix.length);
  }
  return rest === '' ? '/' : rest;
}

/** First element of a comma-separated header, OWS-trimmed. */
function firstElement(value: string): string {
  const comma = value.indexOf(',');
  const first = comma === -1 ? value : value.slice(0, comma);
  let start = 0;
  let end = first.length;
  while (start < end && (first.charCodeAt(start) === SP || first.charCodeAt(start) === HTAB)) start++;
  while (end > start && (first.charCodeAt(end - 1) === SP || first.charCodeAt(end - 1) === HTAB)) end--;
  return first.slice(start, end);
}

/** Last element of a comma-separated header (the one the nearest proxy added), OWS-trimmed. */
function lastElement(value: string): string {
  return firstElement(value.slice(value.lastIndexOf(',') + 1));
}

/** Remove a header from the environ and return its value, or null when absent. */
function take(environ: Environ, key: string): string | null {
  const value = environ[key];
  if (typeof value !== 'string') return null;
  delete environ[key];
  return value;
}

/** A header element usable as a host: not empty, and uri-host [":" port] (a value like "evil, " is not). */
function hostElement(element: string): string | null {
  return element !== '' && isValidHost(element) ? element : null;
}

function translateForwardedHeaders(environ: Environ): void {
  // The last element: a proxy that appends (Apache's ProxyAddHeaders) puts a client's own value first.
  const serverValue = take(environ, 'HTTP_X_FORWARDED_SERVER');
  const server = serverValue === null ? null : hostElement(lastElement(serverValue));
  if (server !== null) environ.SERVER_NAME = environ.HTTP_HOST = server;
  const hostValue = take(environ, 'HTTP_X_FORWARDED_HOST');
  const host = hostValue === null ? null : hostElement(firstElement(hostValue));
  if (host !== null) environ.HTTP_HOST = host;
  // The left-most hop is the client as the first proxy saw it; garcon's proxy stage has
  // already cut this header down to the hops of trusted proxies.
  const forwardedFor = take(environ, 'HTTP_X_FORWARDED_FOR');
  const client = forwardedFor === null ? '' : firstElement(forwardedFor);
  if (client !== '') environ.REMOTE_ADDR = client;
  // X-Forwarded-Scheme first; X-Forwarded-Proto only when it is absent (and then left in place
  // if both came, as PasteDeploy does). Only http/https can become wsgi.url_scheme.
  const scheme = take(environ, 'HTTP_X_FORWARDED_SCHEME') ?? take(environ, 'HTTP_X_FORWARDED_PROTO');
  const lower = scheme?.toLowerCase();
  if (lower === 'http' || lower === 'https') environ['wsgi.url_scheme'] = lower;
}

/** HTTP_HOST without its port; a bracketed IPv6 literal stays whole. */
function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    return close === -1 ? host : host.slice(0, close + 1);
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** Without a Host (HTTP/1.0) the host is SERVER_NAME, as PEP 3333's URL reconstruction takes it; an IPv6 address in brackets. */
function serverHost(name: string): string {
  return name.includes(':') && !name.startsWith('[') ? `[${name}]` : name;
}

function applyPrefix(app: App, options: ResolvedOptions): App {
  const { prefix, scheme, forcePort, translate } = options;
  return (environ, startResponse) => {
    environ.PATH_INFO = stripPrefix(environ.PATH_INFO, prefix);
    // Overwritten, not appended to: the prefix names the whole mount point.
    environ.SCRIPT_NAME = prefix;
    if (translate) translateForwardedHeaders(environ);
    if (forcePort !== null) {
      const host = hostWithoutPort(typeof environ.HTTP_HOST === 'string' && environ.HTTP_HOST !== '' ? environ.HTTP_HOST : serverHost(environ.SERVER_NAME ?? ''));
      if (forcePort !== '') {
        environ.HTTP_HOST = `${host}:${forcePort}`;
        environ.SERVER_PORT = forcePort;
      } else {
        environ.HTTP_HOST = host;
        environ.SERVER_PORT = (scheme ?? environ['wsgi.url_scheme']) === 'http' ? '80' : '443';
      }
    }
    if (scheme !== null) environ['wsgi.url_scheme'] = scheme;
    return app(environ, startResponse);
  };
}

/**
 * Wrap `app` so it sees the URL the user typed on the proxy: SCRIPT_NAME is the
 * prefix, PATH_INFO what follows it, and host, client address and scheme come
 * from the proxy's X-Forwarded-* headers. Throws InvalidOptionError for a bad option.
 */
export function prefixMiddleware(app: App, options: PrefixOptions = {}): App {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', `prefixMiddleware's options must be an object, got ${JSON.stringify(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(API_NAMES, key)) {
      throw new InvalidOptionError(key, `Unknown option ${JSON.stringify(key)} for prefixMiddleware (it takes ${Object.keys(API_NAMES).join(', ')})`);
    }
  }
  return applyPrefix(app, resolveOptions(options, API_NAMES));
}

const FACTORY_KEYS: ReadonlySet<string> = new Set(['prefix', 'translate_forwarded_server', 'force_port', 'scheme']);

/**
 * The ini form (`[filter:prefix]`, PasteDeploy's paste.filter_factory shape): the
 * section's keys as strings, `translate_forwarded_server` parsed as a strict boolean.
 * The global conf is accepted for the signature and not used, as in PasteDeploy.
 */
export function prefixFilterFactory(
  _globalConf: Readonly<Record<string, string>>,
  localConf: Readonly<Record<string, string>>,
): Middleware {
  for (const key of Object.keys(localConf)) {
    if (!FACTORY_KEYS.has(key)) {
      throw new InvalidOptionError(key, `Unknown option ${JSON.stringify(key)} for the prefix filter (it takes ${[...FACTORY_KEYS].join(', ')})`);
    }
  }
  // Checked now, so that a bad value fails while the ini file is loaded.
  const resolved = resolveOptions({
    prefix: localConf.prefix,
    scheme: localConf.scheme,
    forcePort: localConf.force_port?.trim(),
    translateForwardedServer: localConf.translate_forwarded_server,
  }, INI_NAMES);
  return (app) => applyPrefix(app, resolved);
}
