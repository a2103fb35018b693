// Disagreements with llhttp kept on purpose. Each class is documented, with its
// reason, in DISAGREEMENTS.md (same ids); a disagreement outside these is saved
// to test/corpus/found/ for a human. 'framing' disagreements (the two parsers
// end a message at different bytes) are never explained away.

import { METHODS } from 'node:http';
import type { Verdict, View } from './compare.js';

export interface KnownClass {
  id: string;
  matches(verdict: Verdict, garcon: View, llhttp: View, bytes: Buffer): boolean;
}

/** garcon refused with one of its documented rules (the start of its detail). */
function garconRefused(id: string, ...details: string[]): KnownClass {
  return {
    id,
    matches: (verdict, garcon) => verdict.kind === 'garcon-stricter' && details.some((d) => garcon.reason.startsWith(d)),
  };
}

/** garcon accepted what llhttp refused with `code`, and `holds` says why. */
function garconAccepted(id: string, codes: string[], holds: (garcon: View, at: number, bytes: string) => boolean): KnownClass {
  return {
    id,
    matches: (verdict, garcon, llhttp, bytes) =>
      verdict.kind === 'garcon-laxer' && codes.includes(llhttp.reason) && holds(garcon, verdict.at, bytes.toString('latin1')),
  };
}

const HEAD_FOLD = /\r\n[ \t]/;

export const KNOWN_CLASSES: KnownClass[] = [
  garconRefused('duplicate-singleton', '400 Duplicate header:'),
  garconRefused('version-505', '505 '),
  garconRefused('te-unsupported', '501 '),
  garconRefused('te-on-http10', '400 Transfer-Encoding is not allowed'),
  garconRefused('bare-cr-lf', '400 Bare CR or LF'),
  garconRefused('start-line', '400 Start line is invalid', '400 Malformed HTTP method'),
  garconRefused('target-syntax', '400 Bad URI'),
  garconRefused('missing-host', '400 Missing Host header'),
  garconRefused('field-syntax', '400 Invalid header', '400 Malformed header line', '400 Content-Length is invalid', '400 Invalid Host header'),
  garconRefused('chunk-syntax', '400 Invalid chunk size', '400 Invalid chunk extension', '400 Chunk not properly terminated'),
  garconRefused('size-limits', '413 ', '414 ', '431 ', '400 Connection lists more than', '400 Transfer-Encoding lists more than'),
  garconAccepted('method-list', ['HPE_INVALID_METHOD'], (garcon, at) => {
    const method = garcon.requests[at]?.method;
    return method === undefined || !METHODS.includes(method);
  }),
  garconAccepted('version-1x', ['HPE_INVALID_VERSION'], (_g, _at, bytes) => /HTTP\/1\.[2-9]/.test(bytes)),
  garconAccepted('target-forms', ['HPE_INVALID_URL'], () => true),
  garconAccepted('obs-fold', ['HPE_INVALID_HEADER_TOKEN'], (_g, _at, bytes) => HEAD_FOLD.test(bytes)),
  garconAccepted('te-list', ['HPE_INVALID_TRANSFER_ENCODING'], (_g, _at, bytes) => /transfer-encoding/i.test(bytes)),
  garconAccepted('te-overrides-cl', ['HPE_INVALID_CONTENT_LENGTH', 'HPE_UNEXPECTED_CONTENT_LENGTH'], (_g, _at, bytes) =>
    /transfer-encoding/i.test(bytes),
  ),
  // SP/HTAB before a request line (the first, or one right after a body), alone or mixed
  // with the empty lines RFC 9112 section 2.2 lets a server skip; llhttp's error is at the method.
  garconAccepted('leading-ows', ['HPE_INVALID_METHOD'], (_g, _at, bytes) =>
    /(?=[ \t\r\n]*[ \t])[ \t\r\n]+[!-~]+ [^ ]+ HTTP\/\d\.\d[ \t]*\r\n/.test(bytes)),
  garconAccepted('request-line-trailing-ows', ['HPE_INVALID_VERSION'], (_g, _at, bytes) => /HTTP\/\d\.\d[ \t]+\r\n/.test(bytes)),
  garconAccepted('content-length-ows', ['HPE_INVALID_CONTENT_LENGTH'], (_g, _at, bytes) => /content-length:[^\r\n]*[ \t]\r\n/i.test(bytes)),
  { id: 'validates-complete-head', matches: (verdict) => verdict.kind === 'garcon-waits' },
  { id: 'connect-upgrade', matches: (verdict) => verdict.kind === 'tunnel' },
];

/** The id of the documented class this disagreement belongs to, or null. */
export function classify(verdict: Verdict, garcon: View, llhttp: View, bytes: Buffer): string | null {
  for (const known of KNOWN_CLASSES) {
    if (known.matches(verdict, garcon, llhttp, bytes)) return known.id;
  }
  return null;
}
