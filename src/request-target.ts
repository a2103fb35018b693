// Request-target (RFC 9112 section 3.2) -> the raw target, the percent-decoded
// path and the raw query string.
//
// Accepted forms:
// - origin-form `/p?q` (a target starting with `//` keeps its path as is; the
//   environ collapses the slashes later);
// - asterisk-form `*` (path `*`);
// - absolute-form `scheme:hier-part` (RFC 3986 section 4.3). With `//` the
//   authority must be a valid host[:port], without userinfo (RFC 9110 section
//   4.2.4: a phishing device) and, for http(s), not empty (section 4.2.1); the
//   parser then uses it as the request's Host (RFC 9112 section 3.2.2: the
//   target wins over the Host field; Waitress ignored it). Without `//` the rest
//   is the path, so `a:b` has path `b`. An authority-form such as `example.com:443`
//   therefore reads as scheme `example.com` and path `443`, as in Waitress (CONNECT,
//   its only use, is refused by the parser).
// Anything else (`foo`, `?x`, `1a:b`) is refused: RFC 9112 section 3.2 says to
// answer an invalid request-target with 400.

import { isIPv6 } from 'node:net';

export interface RequestTarget {
  /** The target exactly as sent, latin-1 (fragment included). */
  target: string;
  /** Percent-decoded path, one char per byte. */
  path: string;
  /** Raw text after the first '?' (before any '#'), '' when absent. */
  query: string;
  /** host[:port] of an absolute-form target with an authority, or null. */
  authority: string | null;
}

function isAlpha(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** Length of a leading RFC 3986 scheme followed by ':', or -1. */
function schemeLength(text: string): number {
  if (text.length === 0 || !isAlpha(text.charCodeAt(0))) return -1;
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3a) return i;
    // ALPHA / DIGIT / "+" / "-" / "."
    if (!isAlpha(c) && !isDigit(c) && c !== 0x2b && c !== 0x2d && c !== 0x2e) return -1;
  }
  return -1;
}

function isPort(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (!isDigit(text.charCodeAt(i))) return false;
  }
  return true;
}

/** A TCP port as a decimal: 1 to 5 digits, 1-65535 (a forwarded port, a forced one). */
export function isPortNumber(text: string): boolean {
  if (text.length === 0 || text.length > 5 || !isPort(text)) return false;
  const port = Number(text);
  return port >= 1 && port <= 65535;
}

/** RFC 3986 reg-name bytes: unreserved, sub-delims and '%' (checked as pct-encoded by the caller). */
function isRegNameChar(code: number): boolean {
  return isAlpha(code) || isDigit(code) || code === 0x2d || code === 0x2e || code === 0x5f || code === 0x7e || // - . _ ~
    code === 0x21 || code === 0x24 || (code >= 0x26 && code <= 0x2c) || code === 0x3b || code === 0x3d; // ! $ & ' ( ) * + , ; =
}

/**
 * A Host field value or a target's authority without userinfo: uri-host [":" port]
 * (RFC 9110 section 7.2), uri-host being an IPv6 literal in brackets, or a reg-name
 * (which covers IPv4 addresses), possibly empty.
 */
export function isValidHost(value: string): boolean {
  let hostEnd = value.length;
  if (value.charCodeAt(0) === 0x5b) {
    const close = value.indexOf(']');
    if (close === -1 || !isIPv6(value.slice(1, close))) return false;
    return close + 1 === value.length || (value.charCodeAt(close + 1) === 0x3a && isPort(value.slice(close + 2)));
  }
  const colon = value.indexOf(':');
  if (colon !== -1) {
    if (!isPort(value.slice(colon + 1))) return false;
    hostEnd = colon;
  }
  for (let i = 0; i < hostEnd; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25) {
      if (i + 2 >= hostEnd || hexValue(value.charCodeAt(i + 1)) === -1 || hexValue(value.charCodeAt(i + 2)) === -1) return false;
      i += 2;
    } else if (!isRegNameChar(c)) {
      return false;
    }
  }
  return true;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Decode every `%XY` (two hex digits) into the byte 0xXY, `%2F` and `%00`
 * included; malformed escapes stay literal and '+' stays '+'. The bytes are
 * returned one char per byte (PEP 3333 latin-1 tunnelling).
 */
export function percentDecodePath(raw: string): string {
  if (!raw.includes('%')) return raw;
  const out = Buffer.allocUnsafe(raw.length);
  let length = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25 && i + 2 < raw.length) {
      const high = hexValue(raw.charCodeAt(i + 1));
      const low = hexValue(raw.charCodeAt(i + 2));
      if (high !== -1 && low !== -1) {
        out[length++] = (high << 4) | low;
        i += 2;
        continue;
      }
    }
    out[length++] = c;
  }
  return out.toString('latin1', 0, length);
}

/** `http` or `https`, in any case: their URIs must name a host (RFC 9110 section 4.2.1). */
function isHttpScheme(scheme: string): boolean {
  const lower = scheme.toLowerCase();
  return lower === 'http' || lower === 'https';
}

/** Parse the target in `head[start, end)` (latin-1 text, one char per byte); null means 400 `Bad URI`. */
export function parseRequestTarget(head: string, start: number, end: number): RequestTarget | null {
  if (end <= start) return null;
  // One pass: target bytes must be visible ASCII (no controls, SP, DEL or
  // non-ASCII); note where the query and the fragment begin.
  let pathEnd = -1;
  let queryEnd = end;
  for (let i = start; i < end; i++) {
    const c = head.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return null;
    if (c === 0x23 && queryEnd === end) queryEnd = i; // '#': the fragment, never part of the query
    else if (c === 0x3f && pathEnd === -1 && queryEnd === end) pathEnd = i; // the first '?' before any '#'
  }
  if (pathEnd === -1) pathEnd = queryEnd;
  const target = head.slice(start, end);
  const pathPart = head.slice(start, pathEnd);
  const query = pathEnd < queryEnd ? head.slice(pathEnd + 1, queryEnd) : '';

  let rawPath: string;
  let authority: string | null = null;
  if (head.charCodeAt(start) === 0x2f) {
    rawPath = pathPart;
  } else if (target === '*') {
    rawPath = '*';
  } else {
    const schemeEnd = schemeLength(pathPart);
    if (schemeEnd === -1) return null;
    rawPath = pathPart.slice(schemeEnd + 1);
    if (rawPath.startsWith('//')) {
      const slash = rawPath.indexOf('/', 2);
      const authorityEnd = slash === -1 ? rawPath.length : slash;
      const named = rawPath.slice(2, authorityEnd);
      if (!isValidHost(named)) return null; // userinfo ('@') included
      const hostless = named === '' || named.charCodeAt(0) === 0x3a;
      if (isHttpScheme(pathPart.slice(0, schemeEnd))) {
        if (hostless) return null;
        authority = named;
      }
      // Another scheme's authority names no host this server answers for (RFC 9110 section 7.4):
      // it is ignored, as Waitress ignores every target's, and never replaces Host.
      rawPath = rawPath.slice(authorityEnd);
    }
  }
  return { target, path: percentDecodePath(rawPath), query, authority };
}
