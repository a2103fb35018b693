// The access log Waitress never had: one line per response, Apache "combined"
// format plus the response time, or one JSON object, to stdout, the logger, or a file.

import * as fs from 'node:fs';
import type { Adjustments } from './adjustments.js';
import { InvalidOptionError } from './errors.js';

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

/** One line in Apache combined format followed by the response time in milliseconds. */
export function formatCombined(entry: AccessEntry, now: Date = new Date()): string {
  const env = entry.environ;
  // Parts the server never learnt (a request line it could not read) are left out: that line reads "-".
  const requestLine = [field(env, 'REQUEST_METHOD'), field(env, 'REQUEST_URI'), field(env, 'SERVER_PROTOCOL')]
    .filter((part) => part !== '').join(' ');
  const status = entry.status.slice(0, 3);
  const dash = (text: string) => (text === '' ? '-' : escapeLogField(text));
  return (
    `${dash(field(env, 'REMOTE_ADDR'))} - ${dash(field(env, 'REMOTE_USER'))} ${apacheTime(now)} ` +
    `"${escapeLogField(requestLine)}" ${status} ${entry.bytesSent === 0 ? '-' : entry.bytesSent} ` +
    `"${dash(field(env, 'HTTP_REFERER'))}" "${dash(field(env, 'HTTP_USER_AGENT'))}" ${durationMs(entry).toFixed(3)}ms`
  );
}

/** One JSON object per line (JSON.stringify escapes control characters itself). */
export function formatJson(entry: AccessEntry, now: Date = new Date()): string {
  const env = entry.environ;
  const optional = (key: string) => field(env, key) || null;
  return JSON.stringify({
    time: now.toISOString(),
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

/** Where access lines go. */
type Sink = (line: string) => void;

function openFileSink(file: string): Sink {
  let fd: number;
  try {
    // Append mode: lines from several worker processes interleave whole, never torn.
    fd = fs.openSync(file, 'a');
  } catch (err) {
    throw new InvalidOptionError('accessLog', `Cannot open access log "${file}": ${(err as Error).message}`);
  }
  // Synchronous appends: a line is on disk before the next request, and none is lost if the process exits.
  return (line) => {
    fs.writeSync(fd, line + '\n');
  };
}

/**
 * The per-response hook for adj.accessLog, or null when the access log is off.
 * `true` writes to stdout, or through the logger's info() when a logger was
 * given (so pino users get structured routing); a string is a file to append to.
 * Throws InvalidOptionError at start-up when the file cannot be opened.
 */
export function createAccessLog(adj: Adjustments): ((entry: AccessEntry) => void) | null {
  if (adj.accessLog === false) return null;
  let sink: Sink;
  if (typeof adj.accessLog === 'string') sink = openFileSink(adj.accessLog);
  else if (adj.explicit.has('logger')) sink = (line) => adj.logger.info(line);
  else sink = (line) => process.stdout.write(line + '\n');
  const format = adj.accessLogFormat === 'json' ? formatJson : formatCombined;
  return (entry) => sink(format(entry));
}
