// The access log Waitress never had: one line per response, Apache "combined"
// format plus the response time, or one JSON object, to stdout, the logger, or a file.

import * as fs from 'node:fs';
import type { Adjustments } from './adjustments.js';
import { InvalidOptionError } from './errors.js';
import type { ParsedRequest } from './request.js';
import type { Logger } from './types.js';

/** What the server reports about one finished response. */
export interface AccessEntry {
  /**
   * The request's fields under their environ keys: REMOTE_ADDR after the proxy adjustments
   * (the real client when trusted), the request line and headers as received.
   */
  environ: Record<string, unknown>;
  /** The status line the app gave, e.g. "200 OK". */
  status: string;
  /** Body bytes written (not counting the head). */
  bytesSent: number;
  /** process.hrtime.bigint() when the request's first bytes were read and when the response ended. */
  startTime: bigint;
  endTime: bigint;
}

/**
 * What a line reports of `request`, under environ keys: the request line and headers as
 * received (an app rewriting its environ cannot change them), the client address as the
 * proxy stage left it, and the user the app named (as Apache's %u). A request line the
 * parser could not read is left empty: "-" in a line, null in JSON.
 */
export function requestFields(request: ParsedRequest, remoteAddr: string, remoteUser?: unknown): Record<string, unknown> {
  const lineRead = request.target !== '';
  return {
    REMOTE_ADDR: remoteAddr,
    REMOTE_USER: remoteUser,
    REQUEST_METHOD: lineRead ? request.method : '',
    REQUEST_URI: request.target,
    SERVER_PROTOCOL: lineRead ? `HTTP/${request.version}` : '',
    HTTP_REFERER: request.headers.HTTP_REFERER,
    HTTP_USER_AGENT: request.headers.HTTP_USER_AGENT,
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Apache's %t: [10/Oct/2000:13:55:36 -0700], local time. */
export function apacheTime(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return (
    `[${pad(date.getDate())}/${MONTHS[date.getMonth()]}/${date.getFullYear()}:` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}]`
  );
}

// %t changes once a second: formatted once per second, not once per line
// (reading a Date's local fields goes through the time zone rules each time).
let timeSecond = Number.NaN;
let timeText = '';

/** apacheTime of the second holding `ms` (a wall-clock time in milliseconds). */
function apacheTimeOf(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== timeSecond) {
    timeSecond = second;
    timeText = apacheTime(new Date(second * 1000));
  }
  return timeText;
}

/** A char that escapeLogField rewrites. */
function needsEscape(code: number): boolean {
  return code < 0x20 || code >= 0x7f || code === 0x22 || code === 0x5c;
}

/** The longest part of a client's text a log field keeps: a 256 KiB head could otherwise make a 1 MB line. */
export const LOG_FIELD_MAX = 8192;

/** What each byte becomes in a log field (itself, or its escape), made once. */
const ESCAPES: readonly string[] = Array.from({ length: 256 }, (_, c) => {
  if (c === 0x22 || c === 0x5c) return `\\${String.fromCharCode(c)}`;
  return needsEscape(c) ? `\\x${c.toString(16).padStart(2, '0')}` : String.fromCharCode(c);
});

/**
 * Make client-controlled text safe inside a quoted log field: `"` and `\` are
 * escaped and bytes outside printable ASCII become \xHH (as Apache does), so a
 * request cannot forge extra log lines or fields. Past LOG_FIELD_MAX chars the
 * rest is left out, and the field says how much.
 */
export function escapeLogField(text: string): string {
  let clean = 0;
  while (clean < text.length && !needsEscape(text.charCodeAt(clean))) clean++;
  // The usual field (a path, a user agent) has nothing to escape: no new string.
  if (clean === text.length && text.length <= LOG_FIELD_MAX) return text;
  const end = Math.min(text.length, LOG_FIELD_MAX);
  // Runs of clean text as slices, escapes from the table: no string made per char.
  const parts: string[] = [];
  let from = 0;
  for (let i = Math.min(clean, end); i < end; i++) {
    const c = text.charCodeAt(i);
    if (!needsEscape(c)) continue;
    if (i > from) parts.push(text.slice(from, i));
    parts.push(c > 0xff ? `\\u${c.toString(16).padStart(4, '0')}` : ESCAPES[c]!);
    from = i + 1;
  }
  if (from < end) parts.push(text.slice(from, end));
  if (end < text.length) parts.push(`...(${text.length - end} more)`);
  return parts.join('');
}

/** environ[key] when it is a string, '' otherwise (absent, or an app's odd value). */
export function field(environ: Record<string, unknown>, key: string): string {
  const value = environ[key];
  return typeof value === 'string' ? value : '';
}

/** Milliseconds between two hrtime readings, with microsecond precision. */
export function durationMs(entry: AccessEntry): number {
  return Number((entry.endTime - entry.startTime) / 1000n) / 1000;
}

/** When the request came in, in wall-clock milliseconds: `now` less the request's duration. */
function receivedMs(entry: AccessEntry, now: number): number {
  return now - Number(entry.endTime - entry.startTime) / 1e6;
}

/** When the request came in (Apache's %t), as a wall-clock time: `now` less the request's duration. */
export function receivedAt(entry: AccessEntry, now: number = Date.now()): Date {
  return new Date(receivedMs(entry, now));
}

/** `a b c` of the parts that are not empty. */
function joinPresent(a: string, b: string, c: string): string {
  let text = a;
  if (b !== '') text = text === '' ? b : `${text} ${b}`;
  if (c !== '') text = text === '' ? c : `${text} ${c}`;
  return text;
}

/** A log field: '-' for nothing, else `text` escaped (escapeLogField). */
export function dash(text: string): string {
  return text === '' ? '-' : escapeLogField(text);
}

/**
 * One line in Apache combined format followed by the response time in
 * milliseconds; `received` is %t (by default when the request came in).
 */
export function formatCombined(entry: AccessEntry, received?: Date): string {
  const env = entry.environ;
  // Parts the server never learnt (a request line it could not read) are left out: that line reads "-".
  const requestLine = joinPresent(field(env, 'REQUEST_METHOD'), field(env, 'REQUEST_URI'), field(env, 'SERVER_PROTOCOL'));
  const time = received === undefined ? apacheTimeOf(receivedMs(entry, Date.now())) : apacheTime(received);
  return (
    `${dash(field(env, 'REMOTE_ADDR'))} - ${dash(field(env, 'REMOTE_USER'))} ${time} ` +
    `"${dash(requestLine)}" ${entry.status.slice(0, 3)} ${entry.bytesSent === 0 ? '-' : entry.bytesSent} ` +
    `"${dash(field(env, 'HTTP_REFERER'))}" "${dash(field(env, 'HTTP_USER_AGENT'))}" ${durationMs(entry).toFixed(3)}ms`
  );
}

/** One JSON object per line (JSON.stringify escapes control characters itself); `time` is when the request came in. */
export function formatJson(entry: AccessEntry, received: Date = receivedAt(entry)): string {
  const env = entry.environ;
  const optional = (key: string) => field(env, key) || null;
  return JSON.stringify({
    time: received.toISOString(),
    remoteAddr: field(env, 'REMOTE_ADDR'),
    remoteUser: optional('REMOTE_USER'),
    // null for what the server never learnt (a request line it could not read), as for the others.
    method: optional('REQUEST_METHOD'),
    uri: optional('REQUEST_URI'),
    protocol: optional('SERVER_PROTOCOL'),
    status: Number(entry.status.slice(0, 3)),
    bytes: entry.bytesSent,
    referer: optional('HTTP_REFERER'),
    userAgent: optional('HTTP_USER_AGENT'),
    durationMs: durationMs(entry),
  });
}

/** Where access lines go; may throw (a full disk, a closed pipe). */
interface Sink {
  /**
   * Takes lines ending in '\n', several at once (true: a file, stdout), or one
   * line without its '\n' per call (false: a logger).
   */
  readonly batches: boolean;
  write(text: string): void;
  /** Open the file again under its name (after logrotate moved it); a no-op for other sinks. */
  reopen(): void;
  close(): void;
}

function openLogFile(file: string): number {
  try {
    // Append mode: lines from several worker processes interleave whole, never torn.
    return fs.openSync(file, 'a');
  } catch (err) {
    throw new InvalidOptionError('accessLog', `Cannot open access log "${file}": ${(err as Error).message}`);
  }
}

function fileSink(file: string): Sink {
  let fd: number | null = openLogFile(file);
  /** A write failed midway (a full disk): the fragment it left is ended before the next lines. */
  let torn = false;
  return {
    batches: true,
    // Synchronous appends (AccessLog batches them per event-loop turn): nothing waits in a stream's buffer.
    write: (text) => {
      if (fd === null) return;
      if (torn) {
        fs.writeSync(fd, '\n');
        torn = false;
      }
      // Converted once (as writeSync would): a short write (the disk filling up) goes on from where it stopped.
      const bytes = Buffer.from(text);
      let written = 0;
      try {
        while (written < bytes.length) written += fs.writeSync(fd, bytes, written);
      } catch (err) {
        if (written > 0) torn = true;
        throw err;
      }
    },
    reopen: () => {
      const next = openLogFile(file);
      if (fd !== null) fs.closeSync(fd);
      fd = next;
      torn = false; // the fragment stays in the old file; the new one starts clean
    },
    close: () => {
      if (fd !== null) fs.closeSync(fd);
      fd = null;
    },
  };
}

function stdoutSink(): Sink {
  let broken = false;
  // A reader that went away (garcon-serve --access-log | head) makes stdout emit
  // EPIPE as an 'error' event, which would otherwise end the process.
  const onError = () => {
    broken = true;
  };
  process.stdout.on('error', onError);
  return {
    batches: true,
    write: (text) => {
      if (broken) throw new Error('stdout is closed (EPIPE)');
      process.stdout.write(text);
    },
    reopen: () => undefined,
    close: () => {
      process.stdout.off('error', onError);
    },
  };
}

/**
 * Lines a batching access log holds are written within the event-loop turn
 * that produced them (one setImmediate), or on the spot past this size.
 */
const BATCH_LIMIT = 65536;

/** Access logs holding lines; process exit writes them (a listener installed once). */
const holding = new Set<AccessLog>();
let exitHookInstalled = false;

function flushAll(): void {
  for (const log of holding) log.flush();
}

function flushOnImmediate(log: AccessLog): void {
  log.flush();
}

/**
 * The access log of one server: never throws into a request, whatever its sink
 * does. To a file or stdout, the lines of one event-loop turn leave in one
 * write at its end rather than a system call each, which cost more than the
 * rest of a keep-alive request's JavaScript; a process that exits still writes
 * them, and a write is whole lines, so the lines of several worker processes
 * appending to one file interleave whole.
 */
export class AccessLog {
  readonly #sink: Sink;
  readonly #format: (entry: AccessEntry) => string;
  readonly #logger: Logger;
  /** A write failed and was reported; the next success says so. */
  #failing = false;
  /** Lines waiting for the end of the turn (batching sinks). */
  #pending = '';

  constructor(sink: Sink, format: (entry: AccessEntry) => string, logger: Logger) {
    this.#sink = sink;
    this.#format = format;
    this.#logger = logger;
  }

  /** Log one response. A failure (disk full, EPIPE, a throwing logger) is reported once, not thrown. */
  write(entry: AccessEntry): void {
    let line: string;
    try {
      line = this.#format(entry);
    } catch (err) {
      this.#report(err);
      return;
    }
    if (!this.#sink.batches) {
      this.#send(line);
      return;
    }
    if (this.#pending === '') {
      setImmediate(flushOnImmediate, this);
      holding.add(this);
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.on('exit', flushAll);
      }
    }
    this.#pending += `${line}\n`;
    if (this.#pending.length >= BATCH_LIMIT) this.flush();
  }

  /** Write the lines held now (done at the end of each turn, on close, reopen and process exit). */
  flush(): void {
    const text = this.#pending;
    if (text === '') return;
    this.#pending = '';
    holding.delete(this);
    this.#send(text);
  }

  #send(text: string): void {
    try {
      this.#sink.write(text);
      if (this.#failing) {
        this.#failing = false;
        this.#logger.warn('access log writable again');
      }
    } catch (err) {
      this.#report(err);
    }
  }

  #report(err: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    try {
      this.#logger.error('Cannot write the access log; lines are dropped until it works again', err);
    } catch {
      // the logger failing too has nowhere left to report to
    }
  }

  /** Reopen a log file by its name (logrotate's move-and-reopen; garcon-serve does it on SIGHUP). */
  reopen(): void {
    // What was logged before the move goes to the file that was moved.
    this.flush();
    this.#sink.reopen();
  }

  close(): void {
    this.flush();
    this.#sink.close();
  }
}

/**
 * The access log for adj.accessLog, or null when it is off. `true` writes to
 * stdout, or through the logger's info() when a logger was given (so pino users
 * get structured routing); a string is a file to append to. Throws
 * InvalidOptionError at start-up when the file cannot be opened.
 */
export function createAccessLog(adj: Adjustments): AccessLog | null {
  if (adj.accessLog === false) return null;
  let sink: Sink;
  if (typeof adj.accessLog === 'string') {
    sink = fileSink(adj.accessLog);
  } else if (adj.explicit.has('logger')) {
    sink = { batches: false, write: (line) => adj.logger.info(line), reopen: () => undefined, close: () => undefined };
  } else {
    sink = stdoutSink();
  }
  const format = adj.accessLogFormat === 'json' ? formatJson : formatCombined;
  return new AccessLog(sink, format, adj.logger);
}
