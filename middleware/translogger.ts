// TransLogger: a port of Paste's `egg:Paste#translogger` filter, the access log
// Waitress's documentation points to (spec section 8), so that an ini file
// brought over from Waitress keeps its pipeline. One line per response in
// Apache combined format, written when the app calls start_response, with the
// byte count taken from its Content-Length ('-' without one), as Paste does.
// Fixed on the way: the client is REMOTE_ADDR, which garcon's trusted-proxy
// stage has already set from a trusted proxy (Paste logs X-Forwarded-For as any
// client sent it); the path is percent-encoded byte by byte (Paste encoded the
// latin-1 characters of PATH_INFO again as UTF-8); and client text is escaped,
// so that a request cannot write a line of its own. garcon's `accessLog` option
// does the same job without a middleware, and counts the bytes really sent.

import { apacheTime, dash, escapeLogField, field } from '../src/access-log.js';
import { parseBoolWord } from '../src/adjustments.js';
import { InvalidOptionError } from '../src/errors.js';
import { splitPercentFormat } from '../src/percent-format.js';
import { parseContentLength } from '../src/response-head.js';
import type { App, Logger, Middleware, StartResponse } from '../src/types.js';

export interface TransLoggerOptions {
  /** Where lines go: a function, or a Logger's info(); by default stderr, a line each (Paste's console handler). */
  logger?: Logger | ((line: string) => void);
  /** Paste's format string: `%(NAME)s` of the names in TRANSLOGGER_FIELDS, and `%%`. */
  format?: string;
}

/** The names a format may use, as in Paste. */
export const TRANSLOGGER_FIELDS = [
  'REMOTE_ADDR', 'REMOTE_USER', 'REQUEST_METHOD', 'REQUEST_URI', 'HTTP_VERSION',
  'time', 'status', 'bytes', 'HTTP_REFERER', 'HTTP_USER_AGENT',
] as const;
type Field = (typeof TRANSLOGGER_FIELDS)[number];

/** Paste's default: Apache combined. */
const DEFAULT_FORMAT =
  '%(REMOTE_ADDR)s - %(REMOTE_USER)s [%(time)s] "%(REQUEST_METHOD)s %(REQUEST_URI)s %(HTTP_VERSION)s" ' +
  '%(status)s %(bytes)s "%(HTTP_REFERER)s" "%(HTTP_USER_AGENT)s"';

/** A format as text and field names, alternating (text first and last). */
type CompiledFormat = readonly (string | Field)[];

function compileFormat(format: string, option: string): CompiledFormat {
  const parts = splitPercentFormat(format);
  const unknown = typeof parts === 'number' ? null : parts.find((part, i) => i % 2 === 1 && !(TRANSLOGGER_FIELDS as readonly string[]).includes(part));
  if (typeof parts === 'number' || unknown !== undefined) {
    const bad = typeof parts === 'number' ? format.slice(parts, parts + 2) : `%(${unknown})s`;
    throw new InvalidOptionError(
      option,
      `${option}: ${JSON.stringify(format)} has ${JSON.stringify(bad)}; a format may use %% and %(NAME)s of ${TRANSLOGGER_FIELDS.join(', ')}`,
    );
  }
  return parts;
}

/** Python's quote() with safe='/': the bytes left as they are. */
function isSafe(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2f || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
}

/** `%XX` for each byte, made once. */
const PERCENT: readonly string[] = Array.from({ length: 256 }, (_, c) => `%${c.toString(16).toUpperCase().padStart(2, '0')}`);

/**
 * Python's quote(path, safe='/'), on the bytes PATH_INFO carries one per char: safe
 * runs as slices, escapes from a table (escapeLogField then cuts a long result).
 */
function quotePath(path: string): string {
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (isSafe(c)) continue;
    if (i > from) parts.push(path.slice(from, i));
    let escaped: string;
    if (c <= 0xff) {
      escaped = PERCENT[c]!;
    } else {
      // Not a byte: text an app or a filter put there; its UTF-8 bytes are what a URL would
      // carry (a lone surrogate becomes U+FFFD's).
      const point = path.codePointAt(i)!;
      escaped = '';
      for (const byte of Buffer.from(String.fromCodePoint(point), 'utf8')) escaped += PERCENT[byte]!;
      if (point > 0xffff) i++; // the pair's second half goes out with it
    }
    parts.push(escaped);
    from = i + 1;
  }
  if (from === 0) return path;
  parts.push(path.slice(from));
  return parts.join('');
}

/** The app's Content-Length when garcon would take it as one ('-' otherwise: its value must not add fields to the line). */
function contentLength(headers: unknown): string {
  if (!Array.isArray(headers)) return '-';
  for (const pair of headers as unknown[]) {
    if (Array.isArray(pair) && typeof pair[0] === 'string' && pair[0].toLowerCase() === 'content-length') {
      const length = typeof pair[1] === 'string' ? parseContentLength(pair[1]) : -1;
      return length < 0 ? '-' : String(length);
    }
  }
  return '-';
}

function lineOf(format: CompiledFormat, values: Record<Field, string>): string {
  let line = '';
  for (let i = 0; i < format.length; i++) line += i % 2 === 0 ? format[i] : values[format[i] as Field];
  return line;
}

let stderrGuarded = false;

function writerOf(logger: TransLoggerOptions['logger']): (line: string) => void {
  if (logger === undefined) {
    // A reader of stderr that went away (2>&1 | head, a restarted journald) makes it emit
    // EPIPE as an 'error' event, fatal without a listener: lines are dropped instead.
    if (!stderrGuarded) {
      stderrGuarded = true;
      process.stderr.on('error', () => undefined);
    }
    return (line) => process.stderr.write(`${line}\n`);
  }
  if (typeof logger === 'function') return logger;
  return (line) => logger.info(line);
}

const OPTION_NAMES: ReadonlySet<string> = new Set(['logger', 'format']);

/** Options checked when the middleware is built: a wrong type would otherwise log empty lines, or nothing. */
function checkOptions(options: unknown): TransLoggerOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', `transLogger's options must be an object, got ${JSON.stringify(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) throw new InvalidOptionError(key, `Unknown option ${JSON.stringify(key)} for transLogger (it takes logger and format)`);
  }
  const { logger, format } = options as Record<string, unknown>;
  if (format !== undefined && typeof format !== 'string') {
    throw new InvalidOptionError('format', `format must be a string, got ${JSON.stringify(format)}`);
  }
  const isLogger = typeof logger === 'object' && logger !== null && typeof (logger as Logger).info === 'function';
  if (logger !== undefined && typeof logger !== 'function' && !isLogger) {
    throw new InvalidOptionError('logger', `logger must be a function or an object with an info() method, got ${JSON.stringify(logger)}`);
  }
  return options as TransLoggerOptions;
}

/** Wrap `app` so that every response is logged as TransLogger logs it. */
export function transLogger(app: App, options: TransLoggerOptions = {}): App {
  const checked = checkOptions(options);
  const format = compileFormat(checked.format ?? DEFAULT_FORMAT, 'format');
  const write = writerOf(checked.logger);
  return (environ, startResponse) => {
    const received = new Date();
    // The request as it came to this filter, as Paste does: the app and the filters
    // inside this one may rewrite the environ before they answer.
    const query = field(environ, 'QUERY_STRING');
    const remoteAddr = dash(field(environ, 'REMOTE_ADDR'));
    const method = escapeLogField(field(environ, 'REQUEST_METHOD'));
    const uri = escapeLogField(quotePath(field(environ, 'SCRIPT_NAME') + field(environ, 'PATH_INFO')) + (query === '' ? '' : `?${query}`));
    const version = escapeLogField(field(environ, 'SERVER_PROTOCOL'));
    const logged: StartResponse = (status, headers, excInfo) => {
      const line = lineOf(format, {
        REMOTE_ADDR: remoteAddr,
        REMOTE_USER: dash(field(environ, 'REMOTE_USER')),
        REQUEST_METHOD: method,
        REQUEST_URI: uri,
        HTTP_VERSION: version,
        time: apacheTime(received).slice(1, -1),
        status: typeof status === 'string' ? escapeLogField(status.split(' ', 1)[0]!) : '-',
        bytes: escapeLogField(contentLength(headers)),
        HTTP_REFERER: dash(field(environ, 'HTTP_REFERER')),
        HTTP_USER_AGENT: dash(field(environ, 'HTTP_USER_AGENT')),
      });
      try {
        write(line);
      } catch {
        // A logger that fails must not fail the response it logs.
      }
      return startResponse(status, headers, excInfo);
    };
    return app(environ, logged);
  };
}

const FACTORY_KEYS: ReadonlySet<string> = new Set(['format', 'setup_console_handler']);

/**
 * `egg:Paste#translogger` (and `egg:garcon#translogger`) in an ini file: the
 * section's settings in, the middleware out. Lines go to stderr, as with
 * Paste's console handler (`setup_console_handler`, on by default); garcon has
 * no logging configuration to send them anywhere else, so turning it off, or
 * Paste's logger settings, are refused with a pointer to `access_log`.
 */
export function transLoggerFilterFactory(
  _globalConf: Readonly<Record<string, string>>,
  localConf: Readonly<Record<string, string>>,
): Middleware {
  for (const [key, value] of Object.entries(localConf)) {
    if (key === 'setup_console_handler' && parseBoolWord(value) !== true) {
      throw new InvalidOptionError(key, `${key}: garcon has no logging configuration to send TransLogger's lines to: leave it on (stderr), or use garcon's access_log option`);
    }
    if (!FACTORY_KEYS.has(key)) {
      throw new InvalidOptionError(key, `Unknown option ${JSON.stringify(key)} for the translogger filter (it takes format and setup_console_handler; garcon's access_log option logs to stdout or a file)`);
    }
  }
  const options: TransLoggerOptions = {};
  if (localConf.format !== undefined) options.format = localConf.format;
  // Checked now, so that a bad format fails while the ini file is loaded.
  compileFormat(options.format ?? DEFAULT_FORMAT, 'format');
  return (app) => transLogger(app, options);
}
