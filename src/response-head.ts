// Validation of what the app passes to startResponse, and serialisation of the
// response head. The app never controls framing: hop-by-hop headers are refused
// (PEP 3333) and every byte is checked so no header can be split or injected.

import { AppContractError } from './errors.js';
import { HOP_BY_HOP_NAMES, TCHAR, isFieldValueByte, isToken } from './header-names.js';

/** Headers only the server may set (RFC 9110 section 7.6.1, PEP 3333), lower-cased. */
const HOP_BY_HOP = new Set<string>(HOP_BY_HOP_NAMES.map((name) => name.toLowerCase()));

/** field-value bytes: HTAB, SP..~, obs-text; nothing above latin-1 (it could not be encoded). */
function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || !isFieldValueByte(c)) return false;
  }
  return true;
}

/** What a valid header name means to the server. */
const enum NameKind {
  Other,
  ContentLength,
  Date,
  Server,
}

/**
 * Names already checked, with their kind: apps send the same few names on every
 * response, so each is validated once. Bounded, so odd names cannot grow it.
 */
const checkedNames = new Map<string, NameKind>();
const CHECKED_NAMES_MAX = 1024;

/** Validate a header name (token, not hop-by-hop) and say what it is; throws AppContractError. */
function classifyName(name: string): NameKind {
  const known = checkedNames.get(name);
  if (known !== undefined) return known;
  if (!isToken(name)) throw new AppContractError(`invalid header name ${JSON.stringify(name)}`);
  const lower = name.toLowerCase();
  if (HOP_BY_HOP.has(lower)) {
    throw new AppContractError(`${name} is a "hop-by-hop" header; it cannot be used by a WSGI application (see PEP 3333)`);
  }
  const kind = lower === 'content-length' ? NameKind.ContentLength : lower === 'date' ? NameKind.Date : lower === 'server' ? NameKind.Server : NameKind.Other;
  if (checkedNames.size < CHECKED_NAMES_MAX) checkedNames.set(name, kind);
  return kind;
}

/**
 * Content-Length from the app: 1 to 15 digits and nothing else (Q23 fixed: no sign, no '_',
 * no spaces, which would go on the wire as the app wrote them); -1 when it is not.
 */
export function parseContentLength(digits: string): number {
  if (digits.length === 0 || digits.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < digits.length; i++) {
    const d = digits.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** The headers an app passed, checked, with what the server needs to know about them (shared: never changed). */
export interface AppHead {
  readonly status: string;
  /** Three-digit status code. */
  readonly code: number;
  /** The app's headers as name, value, name, value... (its own copy: the app may change its arrays later). */
  readonly fields: readonly string[];
  /** The headers as head lines (`Name: value` CRLF each), in the app's order. */
  readonly lines: string;
  /** The app's Content-Length, or null. */
  readonly contentLength: number | null;
  readonly hasDate: boolean;
  readonly hasServer: boolean;
}

// The last head validated: an app that answers with the same status and header
// strings as last time (a constant Content-Type, the same length) gets the same,
// already validated head back, and nothing is checked or built again. Strings
// compare by value, so this is exact.
let lastHead: AppHead | null = null;

function isLastHead(last: AppHead, status: string, headers: unknown[]): boolean {
  const fields = last.fields;
  if (status !== last.status || headers.length * 2 !== fields.length) return false;
  for (let i = 0; i < headers.length; i++) {
    const pair = headers[i];
    if (!Array.isArray(pair) || pair.length !== 2 || pair[0] !== fields[2 * i] || pair[1] !== fields[2 * i + 1]) return false;
  }
  return true;
}

/** Check status and headers from startResponse; throws AppContractError (-> 500) on anything unsafe. */
export function validateAppHead(status: unknown, headers: unknown): AppHead {
  const last = lastHead;
  if (last !== null && typeof status === 'string' && Array.isArray(headers) && isLastHead(last, status, headers)) return last;
  if (typeof status !== 'string') throw new AppContractError(`status ${String(status)} is not a string`);
  // RFC 9112 section 4: status-code = 3DIGIT, then SP and a reason phrase of field-value bytes.
  const c0 = status.charCodeAt(0), c1 = status.charCodeAt(1), c2 = status.charCodeAt(2);
  const digits = c0 >= 0x31 && c0 <= 0x39 && c1 >= 0x30 && c1 <= 0x39 && c2 >= 0x30 && c2 <= 0x39;
  if (!digits || (status.length > 3 && status.charCodeAt(3) !== 0x20) || !isFieldValue(status)) {
    throw new AppContractError(`invalid status ${JSON.stringify(status)}: expected "NNN Reason" without control characters`);
  }
  // RFC 9110 section 15: codes run from 100 to 599, and a 1xx is interim: the client
  // would go on waiting for the final response (and take the next one for it).
  if (c0 === 0x31) throw new AppContractError(`status ${JSON.stringify(status)} is interim (1xx): the application must give a final status`);
  if (c0 > 0x35) throw new AppContractError(`invalid status ${JSON.stringify(status)}: status codes run from 100 to 599`);
  if (!Array.isArray(headers)) throw new AppContractError('headers must be an array of [name, value] pairs');
  let contentLength: number | null = null;
  let hasDate = false;
  let hasServer = false;
  let lines = '';
  const fields: string[] = [];
  for (const pair of headers as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2) throw new AppContractError('each header must be a [name, value] pair');
    const [name, value] = pair as [unknown, unknown];
    if (typeof name !== 'string' || typeof value !== 'string') {
      throw new AppContractError(`header name and value must be strings: ${JSON.stringify(pair)}`);
    }
    const kind = classifyName(name);
    if (!isFieldValue(value)) throw new AppContractError(`invalid character in the value of header ${name}`);
    if (kind === NameKind.ContentLength) {
      const length = parseContentLength(value);
      if (length < 0 || contentLength !== null) throw new AppContractError(`invalid Content-Length ${JSON.stringify(value)}`);
      contentLength = length;
    } else if (kind === NameKind.Date) {
      hasDate = true;
    } else if (kind === NameKind.Server) {
      hasServer = true;
    }
    lines += `${name}: ${value}\r\n`;
    fields.push(name, value);
  }
  const code = (c0 - 0x30) * 100 + (c1 - 0x30) * 10 + (c2 - 0x30);
  lastHead = { status, code, fields, lines, contentLength, hasDate, hasServer };
  return lastHead;
}

/**
 * The app's head less its Content-Length header (204/304, a file shorter
 * than the app said). Built from the fields already validated: nothing is
 * checked again, and the last-head memo keeps the app's own head.
 */
export function withoutContentLength(head: AppHead): AppHead {
  if (head.contentLength === null) return head;
  let lines = '';
  const fields: string[] = [];
  for (let i = 0; i < head.fields.length; i += 2) {
    const name = head.fields[i]!;
    const value = head.fields[i + 1]!;
    if (classifyName(name) === NameKind.ContentLength) continue;
    lines += `${name}: ${value}\r\n`;
    fields.push(name, value);
  }
  return { ...head, fields, lines, contentLength: null };
}

/** 204, 205 and 304 responses never have a body (RFC 9110 sections 15.3.5, 15.3.6, 15.4.5); apps cannot give a 1xx. */
export function statusAllowsBody(code: number): boolean {
  return code !== 204 && code !== 205 && code !== 304;
}

/** What the server adds to the app's headers. */
export interface Framing {
  version: '1.0' | '1.1';
  /** The body's length when the server knows it (null for 204/304): sent when the app sent none. */
  contentLength: number | null;
  chunked: boolean;
  /** 'close', 'keep-alive' (HTTP/1.0 persistence) or null (no header). */
  connection: 'close' | 'keep-alive' | null;
  date: string;
  ident: string | null;
}

/** Status lines already built, per version: apps answer with a few statuses. Bounded like checkedNames. */
const statusLines = { '1.0': new Map<string, string>(), '1.1': new Map<string, string>() };
const STATUS_LINES_MAX = 256;

function statusLine(version: '1.0' | '1.1', status: string): string {
  const lines = statusLines[version];
  let line = lines.get(status);
  if (line === undefined) {
    line = `HTTP/${version} ${status.length === 3 ? status + ' ' : status}\r\n`;
    if (lines.size < STATUS_LINES_MAX) lines.set(status, line);
  }
  return line;
}

// The usual end of a head, `Date: ...` CRLF `Server: ...` CRLF CRLF, changes once a
// second: it is built once per Date value, not once per response.
let tailDate = '';
let tailIdent: string | null = null;
let tail = '';

function dateServerTail(date: string, ident: string | null): string {
  if (date !== tailDate || ident !== tailIdent) {
    tailDate = date;
    tailIdent = ident;
    tail = ident ? `Date: ${date}\r\nServer: ${ident}\r\n\r\n` : `Date: ${date}\r\n\r\n`;
  }
  return tail;
}

/** Serialise the head in one string (latin-1), app headers in the app's order. */
export function serializeHead(app: AppHead, framing: Framing): string {
  let head = statusLine(framing.version, app.status) + app.lines;
  if (app.contentLength === null && framing.contentLength !== null) {
    head += `Content-Length: ${framing.contentLength}\r\n`;
  }
  if (framing.chunked) head += 'Transfer-Encoding: chunked\r\n';
  if (framing.connection === 'close') head += 'Connection: close\r\n';
  else if (framing.connection === 'keep-alive') head += 'Connection: Keep-Alive\r\n';
  if (!app.hasDate && !app.hasServer) return head + dateServerTail(framing.date, framing.ident);
  if (!app.hasDate) head += `Date: ${framing.date}\r\n`;
  // The app's own Server is kept, and garcon named in Via, as a proxy would (RFC 9110
  // section 7.6.3: the protocol version it got, then its name); with no ident, in neither.
  if (!app.hasServer) {
    if (framing.ident) head += `Server: ${framing.ident}\r\n`;
  } else {
    const name = framing.ident === null ? '' : viaName(framing.ident);
    if (name !== '') head += `Via: ${framing.version} ${name}\r\n`;
  }
  return head + '\r\n';
}

/** Via names the server with a token (RFC 9110 section 7.6.3): an ident's leading one, 'garcon' of 'garcon/1.0 (linux)'. */
function viaName(ident: string): string {
  let end = 0;
  while (end < ident.length && TCHAR[ident.charCodeAt(end)] === 1) end++;
  return ident.slice(0, end);
}
