// The access log Waitress never had: one line per response, Apache "combined"
// format plus the response time, or one JSON object, to stdout, the logger, or a file.

import * as fs from 'node:fs';
import type { Adjustments } from './adjustments.js';
import { InvalidOptionError } from './errors.js';
import type { Logger } from './types.js';

/** What the server reports about one finished response. */
export interface AccessEntry {
  /** The environ after the proxy adjustments (so REMOTE_ADDR is the real client when trusted). */
  environ: Record<string, unknown>;
  /** The status line the app gave, e.g. "200 OK". */
  status: string;
  /** Body bytes written (not counting the head). */
  bytesSent: number;
  /** process.hrtime.bigint() when the request started and when the response ended. */
  startTime: bigint;
  endTime: bigint;
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

/**
 * Make client-controlled text safe inside a quoted log field: `"` and `\` are
 * escaped and bytes outside printable ASCII become \xHH (as Apache does), so a
 * request cannot forge extra log lines or fields.
 */
export function escapeLogField(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) out += `\\${text[i]}`;
    else if (c < 0x20 || c >= 0x7f) out += c > 0xff ? `\\u${c.toString(16).padStart(4, '0')}` : `\\x${c.toString(16).padStart(2, '0')}`;
    else out += text[i];
  }
  return out;
}

const field = (environ: Record<string, unknown>, key: string): string => {
  const value = environ[key];
  return typeof value === 'string' ? value : '';
};

/** Milliseconds between two hrtime readings, with microsecond precision. */
export function durationMs(entry: AccessEntry): number {
  return Number((entry.endTime - entry.startTime) / 1000n) / 1000;
}

/** When the request came in (Apache's %t), as a wall-clock time: `now` less the request's duration. */
export function receivedAt(entry: AccessEntry, now: number = Date.now()): Date {
  return new Date(now - Number(entry.endTime - entry.startTime) / 1e6);
}

/** One line in Apache combined format followed by the response time in milliseconds; `received` is %t. */
export function formatCombined(entry: AccessEntry, received: Date = receivedAt(entry)): string {
  const env = entry.environ;
  // Parts the server never learnt (a request line it could not read) are left out: that line reads "-".
  const requestLine = [field(env, 'REQUEST_METHOD'), field(env, 'REQUEST_URI'), field(env, 'SERVER_PROTOCOL')]
    .filter((part) => part !== '').join(' ');
  const status = entry.status.slice(0, 3);
  const dash = (text: string) => (text === '' ? '-' : escapeLogField(text));
  return (
    `${dash(field(env, 'REMOTE_ADDR'))} - ${dash(field(env, 'REMOTE_USER'))} ${apacheTime(received)} ` +
    `"${escapeLogField(requestLine)}" ${status} ${entry.bytesSent === 0 ? '-' : entry.bytesSent} ` +
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
    method: field(env, 'REQUEST_METHOD'),
    uri: field(env, 'REQUEST_URI'),
    protocol: field(env, 'SERVER_PROTOCOL'),
    status: Number(entry.status.slice(0, 3)),
    bytes: entry.bytesSent,
    referer: optional('HTTP_REFERER'),
    userAgent: optional('HTTP_USER_AGENT'),
    durationMs: durationMs(entry),
  });
}

/** Where access lines go; may throw (a full disk, a closed pipe). */
interface Sink {
  write(line: string): void;
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
  return {
    // Synchronous appends: a line is on disk before the next request, and none is lost if the process exits.
    write: (line) => {
      if (fd !== null) fs.writeSync(fd, line + '\n');
    },
    reopen: () => {
      const next = openLogFile(file);
      if (fd !== null) fs.closeSync(fd);
      fd = next;
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
    write: (line) => {
      if (broken) throw new Error('stdout is closed (EPIPE)');
      process.stdout.write(line + '\n');
    },
    reopen: () => undefined,
    close: () => {
      process.stdout.off('error', onError);
    },
  };
}

/** The access log of one server: never throws into a request, whatever its sink does. */
export class AccessLog {
  readonly #sink: Sink;
  readonly #format: (entry: AccessEntry) => string;
  readonly #logger: Logger;
  /** A write failed and was reported; the next success says so. */
  #failing = false;

  constructor(sink: Sink, format: (entry: AccessEntry) => string, logger: Logger) {
    this.#sink = sink;
    this.#format = format;
    this.#logger = logger;
  }

  /** Log one response. A failure (disk full, EPIPE, a throwing logger) is reported once, not thrown. */
  write(entry: AccessEntry): void {
    try {
      this.#sink.write(this.#format(entry));
      if (this.#failing) {
        this.#failing = false;
        this.#logger.warn('access log writable again');
      }
    } catch (err) {
      if (this.#failing) return;
      this.#failing = true;
      try {
        this.#logger.error('Cannot write the access log; lines are dropped until it works again', err);
      } catch {
        // the logger failing too has nowhere left to report to
      }
    }
  }

  /** Reopen a log file by its name (logrotate's move-and-reopen; garcon-serve does it on SIGHUP). */
  reopen(): void {
    this.#sink.reopen();
  }

  close(): void {
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
    sink = { write: (line) => adj.logger.info(line), reopen: () => undefined, close: () => undefined };
  } else {
    sink = stdoutSink();
  }
  const format = adj.accessLogFormat === 'json' ? formatJson : formatCombined;
  return new AccessLog(sink, format, adj.logger);
}
