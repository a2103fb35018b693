// Every tunable of the server in one table (Waitress's Adjustments): serve(), the
// garcon-serve flags, the ini keys and --help are all generated from OPTIONS.
// Values arrive in their natural types or as strings (command line, ini file) and
// are cast, range-checked and cross-validated here once, at start-up.

import * as dns from 'node:dns';
import * as net from 'node:net';
import ipaddr from 'ipaddr.js';
import { InvalidOptionError } from './errors.js';
import { PROXY_FIELD_NAMES } from './header-names.js';
import { createLogger, guardLogger, type LogLevel } from './logger.js';
import type { Logger } from './types.js';
import { pathForm } from './url-prefix.js';

/** One resolved TCP listener address; `host` is numeric and has no brackets. */
export interface ListenTarget {
  host: string;
  port: number;
  family: 4 | 6;
}

/** An already-open listening socket handed over by a supervisor (socket activation). */
export type PreboundSocket = net.Server | net.Socket | { fd: number };

export type AccessLogFormat = 'combined' | 'json';

/** The validated configuration. Frozen; every value is fully cast. */
export interface Adjustments {
  /** host:port specs after host/port folding; empty when unixSocket or sockets replace TCP listening. */
  readonly listen: readonly string[];
  readonly host: string;
  readonly port: number;
  readonly ipv4: boolean;
  readonly ipv6: boolean;
  readonly serverName: string;
  readonly threads: number;
  readonly trustedProxy: string | null;
  readonly trustedProxyCount: number;
  readonly trustedProxyHeaders: ReadonlySet<string>;
  readonly logUntrustedProxyHeaders: boolean;
  readonly clearUntrustedProxyHeaders: boolean;
  readonly urlScheme: string;
  readonly urlPrefix: string;
  readonly backlog: number;
  readonly recvBytes: number;
  readonly sendBytes: number;
  readonly outbufOverflow: number;
  readonly outbufHighWatermark: number;
  readonly inbufOverflow: number;
  readonly connectionLimit: number;
  /** Seconds. */
  readonly cleanupInterval: number;
  /** Seconds. */
  readonly channelTimeout: number;
  readonly logSocketErrors: boolean;
  readonly maxRequestHeaderSize: number;
  readonly maxRequestHeaderFields: number;
  readonly maxRequestBodySize: number;
  readonly exposeTracebacks: boolean;
  readonly ident: string | null;
  /** Accepted for compatibility with Waitress configurations; Node has no select() loop to tune. */
  readonly asyncoreLoopTimeout: number;
  /** Accepted for compatibility with Waitress configurations; ignored. */
  readonly asyncoreUsePoll: boolean;
  readonly unixSocket: string | null;
  readonly unixSocketPerms: number;
  readonly sockets: readonly PreboundSocket[];
  readonly channelRequestLookahead: number;
  readonly workers: number;
  /** Seconds a graceful shutdown waits for requests in flight. */
  readonly shutdownTimeout: number;
  /** false: off; true: one line per request through the logger; a string: append to that file. */
  readonly accessLog: boolean | string;
  readonly accessLogFormat: AccessLogFormat;
  readonly logLevel: LogLevel;
  readonly logger: Logger;
  /** Names of the options the caller actually passed (undefined counts as not passed). */
  readonly explicit: ReadonlySet<string>;
}

export type OptionKind =
  | 'int'
  | 'number'
  | 'bool'
  | 'string'
  | 'nullable-string'
  | 'ident'
  | 'trust-list'
  | 'list'
  | 'set'
  | 'octal'
  | 'prefix'
  | 'sockets'
  | 'logger'
  | 'enum'
  | 'access-log';

export interface OptionSpec {
  /** camelCase name used by serve(). */
  readonly name: keyof ServeOptions;
  /** snake_case name: the ini key (Waitress's spelling). */
  readonly snake: string;
  /** Command-line flag, or null for options that cannot be written as text. */
  readonly flag: string | null;
  readonly kind: OptionKind;
  readonly default: unknown;
  readonly help: string;
  /** Smallest accepted value of an int/number option. */
  readonly min?: number;
  /** Largest accepted value of an int option. */
  readonly max?: number;
  /** True when the bound excludes `min` itself (number options: "> min"). */
  readonly exclusiveMin?: boolean;
  /** Accepted values of an enum option. */
  readonly choices?: readonly string[];
}

/** What serve() accepts: every option in its natural type, or as a string. */
export interface ServeOptions {
  listen?: string | readonly string[];
  host?: string;
  port?: number | string;
  ipv4?: boolean | string;
  ipv6?: boolean | string;
  serverName?: string;
  threads?: number | string;
  trustedProxy?: string | readonly string[] | null;
  trustedProxyCount?: number | string;
  trustedProxyHeaders?: string | readonly string[] | ReadonlySet<string>;
  logUntrustedProxyHeaders?: boolean | string;
  clearUntrustedProxyHeaders?: boolean | string;
  urlScheme?: string;
  urlPrefix?: string;
  backlog?: number | string;
  recvBytes?: number | string;
  sendBytes?: number | string;
  outbufOverflow?: number | string;
  outbufHighWatermark?: number | string;
  inbufOverflow?: number | string;
  connectionLimit?: number | string;
  cleanupInterval?: number | string;
  channelTimeout?: number | string;
  logSocketErrors?: boolean | string;
  maxRequestHeaderSize?: number | string;
  maxRequestHeaderFields?: number | string;
  maxRequestBodySize?: number | string;
  exposeTracebacks?: boolean | string;
  ident?: string | null;
  asyncoreLoopTimeout?: number | string;
  asyncoreUsePoll?: boolean | string;
  unixSocket?: string | null;
  unixSocketPerms?: number | string;
  sockets?: readonly (PreboundSocket | number | string)[] | string;
  channelRequestLookahead?: number | string;
  workers?: number | string;
  shutdownTimeout?: number | string;
  accessLog?: boolean | string;
  accessLogFormat?: AccessLogFormat | string;
  logLevel?: LogLevel | string;
  logger?: Logger;
}

/** The proxy headers trustedProxyHeaders may name (Waitress 1.4), lower-cased. */
const PROXY_HEADERS: readonly string[] = PROXY_FIELD_NAMES.map((name) => name.toLowerCase());

/** Named groups and keywords trustedProxy accepts besides addresses and CIDR ranges. */
const TRUSTED_PROXY_KEYWORDS = new Set(['loopback', 'linklocal', 'uniquelocal', 'unix', 'localhost', '*']);

const MAX_PORT = 65535;

function row(
  name: keyof ServeOptions,
  kind: OptionKind,
  defaultValue: unknown,
  help: string,
  extra: Partial<Pick<OptionSpec, 'min' | 'max' | 'exclusiveMin' | 'choices'>> & { textual?: boolean } = {},
): OptionSpec {
  const snake = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const { textual = true, ...bounds } = extra;
  return {
    name,
    snake,
    flag: textual ? `--${snake.replace(/_/g, '-')}` : null,
    kind,
    default: defaultValue,
    help,
    ...bounds,
  };
}

/** The largest 32-bit signed integer: the longest delay a Node timer takes (longer fires after 1 ms), and the largest backlog. */
export const INT32_MAX = 2 ** 31 - 1;

const SIZE = { min: 1 } as const;
const SECONDS = { min: 0, exclusiveMin: true } as const;
/** Seconds that become a Node timer. */
const TIMER_SECONDS = { ...SECONDS, max: Math.floor(INT32_MAX / 1000) } as const;

/** The options table. Order is the order of --help. */
export const OPTIONS: readonly OptionSpec[] = Object.freeze([
  row('listen', 'list', ['0.0.0.0:8080'], 'Listen on these host:port pairs (space separated, repeatable); "*:PORT" is every IPv4 and IPv6 address.'),
  row('host', 'string', '0.0.0.0', 'Host to listen on; replaces "listen" with HOST:PORT.'),
  row('port', 'int', 8080, 'TCP port to listen on (0 picks a free one); replaces "listen" with HOST:PORT.', { min: 0, max: MAX_PORT }),
  row('ipv4', 'bool', true, 'Use IPv4 addresses when resolving "listen" entries.'),
  row('ipv6', 'bool', true, 'Use IPv6 addresses when resolving "listen" entries.'),
  row('serverName', 'string', 'localhost', 'Value of SERVER_NAME unless proxy headers change it (garcon default; Waitress uses "waitress.invalid").'),
  row('threads', 'int', 4, 'Most requests running inside the app at once in one process; the rest wait in a queue.', SIZE),
  row('trustedProxy', 'trust-list', null, 'Peers allowed to send proxy headers: addresses, CIDR ranges, loopback/linklocal/uniquelocal, unix, or "*" (comma separated).'),
  // Each trusted hop is checked against trustedProxy: 100,000 of them cost 50-95 ms a request.
  row('trustedProxyCount', 'int', 1, 'How many proxies in front of garcon may add to multi-valued proxy headers (at most 64).', { min: 1, max: 64 }),
  row('trustedProxyHeaders', 'set', [], 'Proxy headers to trust: x-forwarded-for, x-forwarded-host, x-forwarded-proto, x-forwarded-port, x-forwarded-by, or forwarded.'),
  row('logUntrustedProxyHeaders', 'bool', false, 'Log a warning when untrusted proxy headers are removed.'),
  row('clearUntrustedProxyHeaders', 'bool', true, 'Remove proxy headers that do not come from a trusted proxy before the app sees them.'),
  row('urlScheme', 'enum', 'http', 'Default wsgi.url_scheme: http or https.', { choices: ['http', 'https'] }),
  row('urlPrefix', 'prefix', '', 'Mount the app under this path: it becomes SCRIPT_NAME and is removed from PATH_INFO.'),
  // Node takes the backlog as a 32-bit integer: 4294967296 would silently become 0.
  row('backlog', 'int', 1024, 'Length of the listen() backlog.', { ...SIZE, max: INT32_MAX }),
  row('recvBytes', 'int', 8192, 'Accepted for Waitress compatibility and ignored (libuv chooses the read size).', SIZE),
  row('sendBytes', 'int', 1, 'Deprecated (as in Waitress) and unused: Node flushes output itself.', SIZE),
  row('outbufOverflow', 'int', 1048576, 'Accepted for Waitress compatibility and ignored (responses are never spooled to a file; outbufHighWatermark bounds them).', SIZE),
  row('outbufHighWatermark', 'int', 16777216, 'Pending response bytes above which the app is paused until the client reads.', SIZE),
  row('inbufOverflow', 'int', 524288, 'Request body size at which the body is spooled to a temporary file.', SIZE),
  row('connectionLimit', 'int', 100, 'Most client connections open at once; more are accepted and held unread (up to backlog) until one closes.', SIZE),
  row('cleanupInterval', 'number', 30, 'Seconds between sweeps for idle connections.', TIMER_SECONDS),
  row('channelTimeout', 'number', 120, 'Seconds of silence after which a connection is closed; also the most a request head may take to arrive.', SECONDS),
  row('logSocketErrors', 'bool', true, 'Accepted for Waitress compatibility and ignored (socket errors are not logged; a client that leaves is logged at info).'),
  row('maxRequestHeaderSize', 'int', 262144, 'Largest request line plus headers, in bytes (larger gets 431, or 414 when a request line alone is that long).', SIZE),
  row('maxRequestHeaderFields', 'int', 1000, 'Most header lines in a request head, repeated fields and obs-fold continuation lines included (more gets 431).', SIZE),
  row('maxRequestBodySize', 'int', 1073741824, 'Largest request body, in bytes (larger gets 413).', SIZE),
  row('exposeTracebacks', 'bool', false, 'Put the stack trace of an app error into the 500 response body.'),
  row('ident', 'ident', 'garcon', 'Server header and SERVER_SOFTWARE value; empty sends no Server header.'),
  row('asyncoreLoopTimeout', 'number', 1, 'Accepted for Waitress compatibility and ignored (Node has no select() loop to tune).', SECONDS),
  row('asyncoreUsePoll', 'bool', false, 'Accepted for Waitress compatibility and ignored.'),
  row('unixSocket', 'nullable-string', null, 'Path of a Unix socket to listen on instead of TCP.'),
  row('unixSocketPerms', 'octal', 0o600, 'Octal permissions of the Unix socket file.', { min: 0, max: 0o777 }),
  row('sockets', 'sockets', [], 'Already-open listening sockets to serve on (file descriptor numbers from the command line).'),
  row('channelRequestLookahead', 'int', 0, 'Extra pipelined requests read while one runs; above 0 the app can see client disconnects.', { min: 0 }),
  // A typo such as 10000 would fork processes faster than a signal can stop them.
  row('workers', 'int', 1, 'Processes serving the same listeners (node:cluster); each runs up to "threads" requests.', { min: 1, max: 256 }),
  row('shutdownTimeout', 'number', 30, 'Seconds a graceful shutdown waits for requests in flight before closing them.', TIMER_SECONDS),
  row('accessLog', 'access-log', false, 'Log one line per request: on (through the logger on stdout) or to the given file.'),
  row('accessLogFormat', 'enum', 'combined', 'Access log line format: combined (Apache) or json.', { choices: ['combined', 'json'] }),
  row('logLevel', 'enum', 'warn', 'Level of the default stderr logger: debug, info, warn, error or silent (serve() defaults to warn).', {
    choices: ['debug', 'info', 'warn', 'error', 'silent'],
  }),
  row('logger', 'logger', null, 'Logger object with debug/info/warn/error methods (pino shape); default writes to stderr at logLevel.', {
    textual: false,
  }),
]);

const OPTIONS_BY_NAME: ReadonlyMap<string, OptionSpec> = new Map(OPTIONS.map((o) => [o.name, o]));

/** The table row of a camelCase option name, or undefined. */
export function findOption(name: string): OptionSpec | undefined {
  return OPTIONS_BY_NAME.get(name);
}

// ---- casts ---------------------------------------------------------------------------------

function invalid(spec: OptionSpec, value: unknown, why: string): InvalidOptionError {
  return new InvalidOptionError(spec.name, `Invalid value for option "${spec.name}": ${show(value)} ${why}`);
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  return String(value);
}

function checkRange(spec: OptionSpec, value: unknown, n: number): number {
  const { min, max } = spec;
  if (min !== undefined && (spec.exclusiveMin ? n <= min : n < min)) {
    throw invalid(spec, value, `must be ${spec.exclusiveMin ? 'greater than' : 'at least'} ${min}`);
  }
  if (max !== undefined && n > max) throw invalid(spec, value, `must be at most ${spec.kind === 'octal' ? max.toString(8) : max}`);
  return n;
}

// Python int() syntax: surrounding whitespace, a sign, digits with single '_' separators.
const INT_TEXT = /^[+-]?\d+(?:_\d+)*$/;
const DECIMAL_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;

function castInt(spec: OptionSpec, value: unknown): number {
  let n: number;
  if (typeof value === 'number') {
    n = value;
  } else if (typeof value === 'string' && INT_TEXT.test(value.trim())) {
    n = Number(value.trim().replace(/_/g, ''));
  } else {
    throw invalid(spec, value, 'is not an integer');
  }
  if (!Number.isSafeInteger(n)) throw invalid(spec, value, 'is not an integer');
  return checkRange(spec, value, n);
}

function castNumber(spec: OptionSpec, value: unknown): number {
  let n: number;
  if (typeof value === 'number') {
    n = value;
  } else if (typeof value === 'string' && DECIMAL_TEXT.test(value.trim())) {
    n = Number(value.trim());
  } else {
    throw invalid(spec, value, 'is not a number');
  }
  if (!Number.isFinite(n)) throw invalid(spec, value, 'is not a number');
  return checkRange(spec, value, n);
}

const TRUE_WORDS = new Set(['t', 'true', 'y', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['f', 'false', 'n', 'no', 'off', '0', '']);

/** The boolean a switch word means, or undefined when it is not one. */
export function parseBoolWord(text: string): boolean | undefined {
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return undefined;
}

// Stricter than Waitress, where any unknown word (a typo of "yes") silently means false.
/** A switch's value: a boolean, 1 or 0 (as Waitress's asbool() reads them) or a switch word; undefined when none of these. */
export function booleanOf(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 0) return value === 1;
  return typeof value === 'string' ? parseBoolWord(value) : undefined;
}

function castBool(spec: OptionSpec, value: unknown): boolean {
  const parsed = booleanOf(value);
  if (parsed === undefined) throw invalid(spec, value, 'is not a boolean (use true/false, yes/no, on/off or 1/0)');
  return parsed;
}

function castString(spec: OptionSpec, value: unknown): string {
  if (typeof value !== 'string') throw invalid(spec, value, 'is not a string');
  return value;
}

function castNullableString(spec: OptionSpec, value: unknown): string | null {
  if (value === null) return null;
  return castString(spec, value) || null;
}

/**
 * ident goes into every response head as it is (Server, Via): a CR or LF in it would
 * write headers of its own, so it holds visible ASCII and inner spaces only.
 */
function castIdent(spec: OptionSpec, value: unknown): string | null {
  const ident = castNullableString(spec, value);
  if (ident !== null && !/^[\x21-\x7e]+(?: [\x21-\x7e]+)*$/.test(ident)) {
    throw invalid(spec, value, 'may hold only visible ASCII characters and single spaces between them (it is sent as the Server header)');
  }
  return ident;
}

/** trustedProxy: a comma-separated string (kept as given) or a list of entries (joined with commas); none is null. */
function castTrustList(spec: OptionSpec, value: unknown): string | null {
  if (!Array.isArray(value)) return castNullableString(spec, value);
  if (value.some((entry) => typeof entry !== 'string')) throw invalid(spec, value, 'is not a string or a list of strings');
  return value.join(',') || null;
}

/** Words of a string or of each string in a list, split on whitespace (and on commas when asked). */
function words(spec: OptionSpec, value: unknown, commas: boolean): string[] {
  const parts = typeof value === 'string' ? [value] : isIterable(value) ? [...value] : null;
  if (parts === null || parts.some((p) => typeof p !== 'string')) {
    throw invalid(spec, value, 'is not a string or a list of strings');
  }
  const separator = commas ? /[\s,]+/ : /\s+/;
  return (parts as string[]).flatMap((part) => part.split(separator).filter((w) => w !== ''));
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return value !== null && typeof value === 'object' && Symbol.iterator in value;
}

function castHeaderSet(spec: OptionSpec, value: unknown): ReadonlySet<string> {
  const names = words(spec, value, true).map((w) => w.toLowerCase());
  for (const name of names) {
    if (!PROXY_HEADERS.includes(name)) {
      throw new InvalidOptionError(
        spec.name,
        `Invalid value for option "${spec.name}": unknown header "${name}"; expected one of ${PROXY_HEADERS.join(', ')}`,
      );
    }
  }
  return new Set(names);
}

function castOctal(spec: OptionSpec, value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw invalid(spec, value, 'is not an integer');
    // A number is the mode itself (as fs.chmod takes it): 660 is 0o1224, not rw-rw----.
    if (value > spec.max!) throw invalid(spec, value, `must be at most 0o${spec.max!.toString(8)} (${spec.max}); write the octal digits as a string ("${value}") or as 0o${value}`);
    return checkRange(spec, value, value);
  }
  // Python's int(text, 8), which Waitress uses, also takes a 0o prefix and _ between digits.
  const digits = typeof value === 'string' ? value.trim().replace(/^0o/i, '') : '';
  if (!/^[0-7]+(?:_[0-7]+)*$/.test(digits)) {
    throw invalid(spec, value, 'is not an octal number such as "660"');
  }
  return checkRange(spec, value, parseInt(digits.replaceAll('_', ''), 8));
}

// One leading slash, none trailing; "/" alone means no prefix (Waitress would keep "/",
// which then made SCRIPT_NAME "/" and broke URL reconstruction).
function castPrefix(spec: OptionSpec, value: unknown): string {
  const text = castString(spec, value).trim();
  let start = 0;
  let end = text.length;
  while (start < end && text.charCodeAt(start) === 0x2f) start++;
  while (end > start && text.charCodeAt(end - 1) === 0x2f) end--;
  if (start === end) return '';
  return pathForm(`/${text.slice(start, end)}`);
}

function castSockets(spec: OptionSpec, value: unknown): PreboundSocket[] {
  const items: unknown[] = typeof value === 'string' ? words(spec, value, true) : isIterable(value) ? [...value] : [value];
  return items.map((item) => {
    if (item instanceof net.Server || item instanceof net.Socket) return item;
    if (typeof item === 'number' || typeof item === 'string') return { fd: castInt({ ...spec, min: 0 }, item) };
    if (item !== null && typeof item === 'object' && 'fd' in item) {
      return { fd: castInt({ ...spec, min: 0 }, (item as { fd: unknown }).fd) };
    }
    throw invalid(spec, item, 'is not a net.Server, a net.Socket or a file descriptor');
  });
}

function castLogger(spec: OptionSpec, value: unknown): Logger {
  const candidate = value as Partial<Record<keyof Logger, unknown>> | null;
  const ok =
    candidate !== null &&
    (typeof candidate === 'object' || typeof candidate === 'function') &&
    (['debug', 'info', 'warn', 'error'] as const).every((m) => typeof candidate[m] === 'function');
  if (!ok) throw invalid(spec, value, 'is not a logger (an object with debug, info, warn and error methods)');
  return value as Logger;
}

const LEVEL_ALIASES: Readonly<Record<string, string>> = { warning: 'warn', critical: 'error', fatal: 'error' };

// Enums are compared case-insensitively so ini files may say "level = INFO" or "WARNING".
function castEnum(spec: OptionSpec, value: unknown): string {
  const text = castString(spec, value).trim().toLowerCase();
  const choice = spec.name === 'logLevel' ? (LEVEL_ALIASES[text] ?? text) : text;
  if (!spec.choices?.includes(choice)) throw invalid(spec, value, `is not one of ${spec.choices?.join(', ')}`);
  return choice;
}

// true/false or a switch word turn the log on or off; any other string is a file path.
function castAccessLog(spec: OptionSpec, value: unknown): boolean | string {
  if (typeof value === 'boolean') return value;
  const text = castString(spec, value);
  // An unset variable (--access-log=$LOGFILE) must not turn the log off unnoticed.
  if (text.trim() === '') throw invalid(spec, value, 'is empty (give a file, "on" for stdout, or "off")');
  // '-' is stdout to gunicorn and most tools: a file named '-' in the working directory is nobody's wish.
  if (text.trim() === '-') return true;
  return parseBoolWord(text) ?? text;
}

/** Cast one option value given in its natural type or as text; throws InvalidOptionError. */
export function castOption(spec: OptionSpec, value: unknown): unknown {
  switch (spec.kind) {
    case 'int':
      return castInt(spec, value);
    case 'number':
      return castNumber(spec, value);
    case 'bool':
      return castBool(spec, value);
    case 'string':
      return castString(spec, value);
    case 'nullable-string':
      return castNullableString(spec, value);
    case 'ident':
      return castIdent(spec, value);
    case 'trust-list':
      return castTrustList(spec, value);
    case 'list':
      return words(spec, value, false);
    case 'set':
      return castHeaderSet(spec, value);
    case 'octal':
      return castOctal(spec, value);
    case 'prefix':
      return castPrefix(spec, value);
    case 'sockets':
      return castSockets(spec, value);
    case 'logger':
      return castLogger(spec, value);
    case 'enum':
      return castEnum(spec, value);
    case 'access-log':
      return castAccessLog(spec, value);
  }
}

// ---- listen entries ------------------------------------------------------------------------

/** Port numbers of the service names garcon understands in "host:service" (getaddrinfo would). */
const SERVICE_PORTS: Readonly<Record<string, number>> = { http: 80, www: 80, https: 443, 'http-alt': 8080, webcache: 8080 };

const HOST_TEXT = /^(?:\*|[A-Za-z0-9.:_%-]*)$/;

interface ListenSpec {
  host: string;
  port: number;
}

function badListen(entry: string, why?: string): InvalidOptionError {
  return new InvalidOptionError('listen', `Invalid host/port specified: ${JSON.stringify(entry)}${why ? ` (${why})` : ''}`);
}

/**
 * Split one listen entry at its last colon (Waitress 1.3 step 2): "[::1]:80", "::1:80" and
 * "127.0.0.1" (default port) all work; brackets are removed and "*" or "" mean every address.
 */
function parseListenEntry(entry: string, defaultPort: number): ListenSpec {
  const colon = entry.lastIndexOf(':');
  let host = entry;
  let portText: string | null = null;
  if (colon !== -1 && !entry.slice(colon + 1).includes(']')) {
    host = entry.slice(0, colon);
    portText = entry.slice(colon + 1);
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.includes('[') || host.includes(']')) throw badListen(entry, 'unbalanced brackets');
  // As in Waitress (getaddrinfo refuses it): an empty host, such as an unset $HOST in
  // --host=$HOST, must not quietly mean every interface.
  if (host === '') throw badListen(entry, 'the host is empty (write * to listen on every address)');
  // A colon left in the host is only valid inside an IPv6 literal; the rest are hostname chars.
  if (!HOST_TEXT.test(host) || (host.includes(':') && !net.isIPv6(host.split('%')[0] ?? ''))) {
    throw badListen(entry, `"${host}" is not a host name or an IP address`);
  }
  let port = defaultPort;
  if (portText !== null) {
    if (/^\d{1,5}$/.test(portText)) port = Number(portText);
    else if (Object.prototype.hasOwnProperty.call(SERVICE_PORTS, portText)) port = SERVICE_PORTS[portText] as number;
    else throw badListen(entry, `port "${portText}" is not a number or a known service name`);
    if (port > MAX_PORT) throw badListen(entry, `port ${port} is above ${MAX_PORT}`);
  }
  return { host, port };
}

// ---- building and validating ---------------------------------------------------------------

function conflict(option: string, message: string): InvalidOptionError {
  return new InvalidOptionError(option, message);
}

function checkTrustedProxy(value: string): void {
  for (const raw of value.split(',')) {
    const element = raw.trim();
    // Peers are matched on their address alone: a zone (fe80::1%eth0) would be dropped, and trust fe80::1 on every link.
    if (element.includes('%')) {
      throw new InvalidOptionError('trustedProxy', `Invalid value for option "trustedProxy": ${JSON.stringify(element)} has a zone ID, which cannot be matched: give the address alone`);
    }
    if (isStrictCidr(element) && Number(element.slice(element.indexOf('/') + 1)) === 0) {
      throw new InvalidOptionError('trustedProxy', `Invalid value for option "trustedProxy": ${JSON.stringify(element)} is every address: say "*" to trust every peer`);
    }
    if (!TRUSTED_PROXY_KEYWORDS.has(element) && !isStrictAddress(element) && !isStrictCidr(element)) {
      throw new InvalidOptionError(
        'trustedProxy',
        `Invalid value for option "trustedProxy": ${JSON.stringify(element)} is not an IP address, a CIDR range, ` +
          'loopback, linklocal, uniquelocal, unix, localhost or "*"',
      );
    }
  }
}

// ipaddr.isValid alone also takes "1" or "0x7f.1" (inet_aton forms) that nobody means as a proxy.
function isStrictAddress(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text) || ipaddr.IPv6.isValid(text);
}

function isStrictCidr(text: string): boolean {
  const slash = text.indexOf('/');
  return slash > 0 && isStrictAddress(text.slice(0, slash)) && /^\d{1,3}$/.test(text.slice(slash + 1)) && ipaddr.isValidCIDR(text);
}

/**
 * Cast and validate user options into frozen Adjustments.
 * Throws InvalidOptionError naming the option for an unknown name, a bad value or a conflict.
 */
export function makeAdjustments(options: Record<string, unknown> = {}): Adjustments {
  // From JavaScript anything can come: a string's characters would read as options "0", "1"...
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError('options', `The options must be an object such as { listen: '127.0.0.1:8080' }, got ${show(options)}`);
  }
  const values = new Map<string, unknown>();
  const explicit = new Set<string>();
  for (const [name, value] of Object.entries(options)) {
    const spec = OPTIONS_BY_NAME.get(name);
    if (spec === undefined) {
      const hint = OPTIONS.find((o) => o.snake === name || o.flag === name);
      throw new InvalidOptionError(name, `Unknown option "${name}"${hint ? ` (did you mean "${hint.name}"?)` : ''}`);
    }
    if (value === undefined) continue;
    values.set(name, castOption(spec, value));
    explicit.add(name);
  }
  const get = <T>(name: keyof ServeOptions): T => (values.has(name) ? values.get(name) : OPTIONS_BY_NAME.get(name)?.default) as T;
  const has = (name: string) => explicit.has(name);

  const logLevel = get<LogLevel>('logLevel');
  // A logger of the user's is guarded: one that throws must not fail a request or crash the server.
  const logger = values.has('logger') ? guardLogger(get<Logger>('logger')) : createLogger(logLevel);

  // Waitress 1.4 conflicts: one way of choosing listeners at a time.
  const hostOrPort = has('host') || has('port');
  if (has('listen') && hostOrPort) throw conflict('listen', 'Options "host" and "port" may not be set together with "listen"');
  if (has('listen') && has('sockets')) throw conflict('sockets', 'Option "sockets" may not be set together with "listen"');
  if (has('sockets') && hostOrPort) throw conflict('sockets', 'Options "host" and "port" may not be set together with "sockets"');
  const unixSocket = get<string | null>('unixSocket');
  // As for an empty host: an unset variable (--unix-socket=$SOCK) must not mean TCP on every address.
  if (typeof options.unixSocket === 'string' && options.unixSocket.trim() === '') {
    throw invalid(OPTIONS_BY_NAME.get('unixSocket')!, options.unixSocket, 'is empty (leave the option out to listen on TCP)');
  }
  if (unixSocket !== null) {
    for (const other of ['host', 'port', 'listen', 'sockets']) {
      if (has(other)) throw conflict('unixSocket', `Option "unixSocket" may not be set together with "${other}"`);
    }
  }

  const ipv4 = get<boolean>('ipv4');
  const ipv6 = get<boolean>('ipv6');
  // Waitress treats both off as both on (its quirk Q26); refusing is clearer.
  if (!ipv4 && !ipv6) throw conflict('ipv4', 'Options "ipv4" and "ipv6" may not both be false');

  const host = get<string>('host');
  const port = get<number>('port');
  let listen: string[];
  if (unixSocket !== null || has('sockets')) listen = [];
  else if (hostOrPort) listen = [`${host}:${port}`];
  else listen = get<string[]>('listen');
  for (const entry of listen) parseListenEntry(entry, port);
  if (has('listen') && listen.length === 0) throw conflict('listen', 'Option "listen" names no host:port');
  // An unset $LISTEN_FDS-style variable would otherwise start a server listening on nothing.
  if (has('sockets') && get<unknown[]>('sockets').length === 0) throw conflict('sockets', 'Option "sockets" names no socket');

  // Waitress 1.4 proxy rules.
  const trustedProxy = get<string | null>('trustedProxy');
  if (trustedProxy !== null) checkTrustedProxy(trustedProxy);
  let trustedProxyHeaders = get<ReadonlySet<string> | string[]>('trustedProxyHeaders');
  if (Array.isArray(trustedProxyHeaders)) trustedProxyHeaders = new Set(trustedProxyHeaders);
  if (trustedProxy === null) {
    if (has('trustedProxyCount')) {
      throw conflict('trustedProxyCount', 'Option "trustedProxyCount" has no meaning without setting "trustedProxy"');
    }
    if (trustedProxyHeaders.size > 0) {
      throw conflict('trustedProxyHeaders', 'Option "trustedProxyHeaders" has no meaning without setting "trustedProxy"');
    }
  } else if (trustedProxyHeaders.size === 0) {
    logger.warn(
      'No proxy headers were marked as trusted, but trustedProxy was set. Implicitly trusting X-Forwarded-Proto ' +
        'for backwards compatibility; set trustedProxyHeaders explicitly.',
    );
    trustedProxyHeaders = new Set(['x-forwarded-proto']);
  }
  if (trustedProxyHeaders.has('forwarded') && [...trustedProxyHeaders].some((h) => h.startsWith('x-forwarded-'))) {
    throw conflict(
      'trustedProxyHeaders',
      'The Forwarded proxy header and the X-Forwarded-{By,Host,Proto,Port,For} headers are mutually exclusive; ' +
        'trustedProxyHeaders may not name both',
    );
  }
  if (has('sendBytes')) logger.warn('Option "sendBytes" is deprecated and has no effect; it will be removed.');

  const adj: Adjustments = {
    listen: Object.freeze(listen),
    host,
    port,
    ipv4,
    ipv6,
    serverName: get('serverName'),
    threads: get('threads'),
    trustedProxy,
    trustedProxyCount: get('trustedProxyCount'),
    trustedProxyHeaders,
    logUntrustedProxyHeaders: get('logUntrustedProxyHeaders'),
    clearUntrustedProxyHeaders: get('clearUntrustedProxyHeaders'),
    urlScheme: get('urlScheme'),
    urlPrefix: get('urlPrefix'),
    backlog: get('backlog'),
    recvBytes: get('recvBytes'),
    sendBytes: get('sendBytes'),
    outbufOverflow: get('outbufOverflow'),
    outbufHighWatermark: get('outbufHighWatermark'),
    inbufOverflow: get('inbufOverflow'),
    connectionLimit: get('connectionLimit'),
    cleanupInterval: get('cleanupInterval'),
    channelTimeout: get('channelTimeout'),
    logSocketErrors: get('logSocketErrors'),
    maxRequestHeaderSize: get('maxRequestHeaderSize'),
    maxRequestHeaderFields: get('maxRequestHeaderFields'),
    maxRequestBodySize: get('maxRequestBodySize'),
    exposeTracebacks: get('exposeTracebacks'),
    ident: get('ident'),
    asyncoreLoopTimeout: get('asyncoreLoopTimeout'),
    asyncoreUsePoll: get('asyncoreUsePoll'),
    unixSocket,
    unixSocketPerms: get('unixSocketPerms'),
    sockets: Object.freeze([...get<PreboundSocket[]>('sockets')]),
    channelRequestLookahead: get('channelRequestLookahead'),
    workers: get('workers'),
    shutdownTimeout: get('shutdownTimeout'),
    accessLog: get('accessLog'),
    accessLogFormat: get('accessLogFormat'),
    logLevel,
    logger,
    explicit,
  };
  return Object.freeze(adj);
}

// ---- resolution ----------------------------------------------------------------------------

type LookupAll = (host: string, options: dns.LookupAllOptions) => Promise<dns.LookupAddress[]>;

const lookupAll: LookupAll = (host, options) => dns.promises.lookup(host, options);

/**
 * Resolve adj.listen to concrete addresses (Waitress 1.3): "*" gives 0.0.0.0 and ::, names are
 * looked up, the ipv4/ipv6 filter applies, and duplicates are dropped except port-0 entries
 * (each asks for its own ephemeral port).
 */
export async function resolveListen(adj: Adjustments, lookup: LookupAll = lookupAll): Promise<ListenTarget[]> {
  const allowed = (family: number) => (family === 4 ? adj.ipv4 : family === 6 ? adj.ipv6 : false);
  const targets: ListenTarget[] = [];
  const seen = new Set<string>();
  for (const entry of adj.listen) {
    const { host, port } = parseListenEntry(entry, adj.port);
    let found: { address: string; family: number }[];
    if (host === '*') {
      found = [
        { address: '0.0.0.0', family: 4 },
        { address: '::', family: 6 },
      ];
    } else {
      try {
        found = await lookup(host, { all: true, family: 0 });
      } catch (err) {
        throw badListen(entry, (err as NodeJS.ErrnoException).code ?? String(err));
      }
    }
    const usable = found.filter((f) => allowed(f.family));
    if (usable.length === 0) throw badListen(entry, `no ${adj.ipv4 ? 'IPv4' : 'IPv6'} address (see options ipv4 and ipv6)`);
    for (const { address, family } of usable) {
      const key = `${address.split('%')[0]}|${port}`;
      if (port !== 0 && seen.has(key)) continue;
      seen.add(key);
      targets.push({ host: address, port, family: family as 4 | 6 });
    }
  }
  return targets;
}

/** The URL printed in "Serving on ..." lines; IPv6 hosts are always bracketed. */
export function formatServingUrl(address: net.AddressInfo | string): string {
  if (typeof address === 'string') return `http://unix:${address}`;
  const host = net.isIPv6(address.address) ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}
