// The request parser: turns the bytes of one request into a ParsedRequest
// (RFC 9112). One parser per request; the channel feeds it reads until it is
// `completed`, then starts a new parser on the bytes it did not consume
// (pipelining). Refusals are recorded in `request.error`, never thrown.
//
// The head is found by searching for CRLF CRLF in each read (a short read as
// latin-1 text; the last three bytes are carried across reads), then validated
// in one linear pass over the bytes, with names, values and the target taken as
// slices of one latin-1 string of the head. No regular expressions run on client
// data (CVE-2020-5236).

import { BodyBuffer } from './buffers.js';
import { ChunkedDecoder } from './chunked.js';
import {
  BARE_CR_OR_LF,
  BadRequest,
  HttpVersionNotSupported,
  INVALID_HEADER,
  NotImplemented,
  ServiceUnavailable,
  RequestEntityTooLarge,
  RequestHeaderFieldsTooLarge,
  UriTooLong,
  type HttpError,
} from './errors.js';
import { FieldFlag, SP, TCHAR, bytesHold, fieldNameAt, isFieldValueByte, isOws, listElements, listLength, nameHashStep, ownCopy, type FieldName } from './header-names.js';
import { ParsedRequest } from './request.js';
import { isValidHost, parseRequestTarget } from './request-target.js';

export interface ParserLimits {
  /** A head of this many bytes or more gets 431. */
  maxRequestHeaderSize: number;
  /**
   * A head with more fields than this gets 431: each distinct name is a property of the
   * environ, and some 37,000 of them in 256 KiB cost 45 ms a head, 30 times a plain head's.
   */
  maxRequestHeaderFields: number;
  /** A body of this many bytes or more gets 413 (raw bytes for chunked bodies). */
  maxRequestBodySize: number;
  /** Body size at which it moves from memory to a temp file. */
  inbufOverflow: number;
}

const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;
const HEAD_TERMINATOR = Buffer.from('\r\n\r\n', 'latin1');
/** Reads up to this long are searched for the end of the head as text (the head is then a slice of it). */
const TEXT_SEARCH_LIMIT = 4096;
/** Connection list elements allowed beyond maxRequestHeaderFields: keywords name no field. */
const LIST_KEYWORDS = 16;
/** The smallest buffer a head spanning reads is gathered in. */
const MIN_KEPT_HEAD = 1024;
/** Significant decimal digits that always fit exactly in a double. */
const MAX_EXACT_DECIMAL_DIGITS = 15;

const START_LINE_INVALID = 'Start line is invalid';
/** At most one of each of these (RFC 9112 section 3.2 for Host, RFC 9110 section 8.6 for Content-Length). */
const SINGLETON_KEYS = new Set(['HTTP_HOST', 'CONTENT_LENGTH', 'CONTENT_TYPE']);

/** Heads whose fields were parsed, numbering them for KeyUse (header-names.ts). */
let headsParsed = 0;

/** The last Host value found valid: clients send the same one request after request. */
let lastValidHost = '';

/** Thrown inside head processing only, turned into `request.error` at its boundary. */
class Refusal extends Error {
  readonly error: HttpError;
  constructor(error: HttpError) {
    super(error.message);
    this.error = error;
  }
}

function refuse(error: HttpError): never {
  throw new Refusal(error);
}

/** Index of the CR ending the line that starts at `start`; a CR or LF not in a CRLF pair is refused. */
function lineEnd(head: string, start: number): number {
  // The head ends with CRLF CRLF, so both searches succeed; each stops at the
  // first hit, keeping the whole head scan linear.
  const cr = head.indexOf('\r', start);
  const lf = head.indexOf('\n', start);
  if (lf !== cr + 1) refuse(new BadRequest(BARE_CR_OR_LF));
  return cr;
}

/**
 * A CR or LF outside a CRLF pair in `data[start...]`, head bytes still waiting for
 * their CRLF CRLF; `before` is the head byte just before them (-1 if none). A CR
 * at the very end is undecided. Such a head is refused at once (contract 15):
 * one ending its lines in LF alone would otherwise wait for a CRLF CRLF that
 * never comes, until channelTimeout.
 */
function hasBareLineBreak(data: Buffer, start: number, before: number): boolean {
  if (before === CR && data[start] !== LF) return true;
  for (let at = data.indexOf(LF, start); at !== -1; at = data.indexOf(LF, at + 1)) {
    if ((at === start ? before : data[at - 1]) !== CR) return true;
  }
  for (let at = data.indexOf(CR, start); at !== -1 && at + 1 < data.length; at = data.indexOf(CR, at + 1)) {
    if (data[at + 1] !== LF) return true;
  }
  return false;
}

/** An error from the operating system (it has a string code, such as EMFILE or ENOSPC). */
function isSystemError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

function isAsciiDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

/**
 * The comma-separated list `value` (RFC 9110 section 5.6.1) has the element
 * `token` (lower-case ASCII), in any case, with SP/HTAB around it; without
 * splitting the value into new strings.
 */
function hasListElement(value: string, token: string): boolean {
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    if (i < value.length && value.charCodeAt(i) !== 0x2c) continue;
    let from = start;
    let to = i;
    while (from < to && isOws(value.charCodeAt(from))) from++;
    while (to > from && isOws(value.charCodeAt(to - 1))) to--;
    if (to - from === token.length && equalsAsciiLowerCase(value, from, token)) return true;
    start = i + 1;
  }
  return false;
}

/** `value` holds `lower` (lower-case ASCII) at `at`, ignoring the case of ASCII letters only. */
function equalsAsciiLowerCase(value: string, at: number, lower: string): boolean {
  for (let k = 0; k < lower.length; k++) {
    const c = value.charCodeAt(at + k);
    const l = lower.charCodeAt(k);
    if (c !== l && !(c >= 0x41 && c <= 0x5a && c + 0x20 === l)) return false;
  }
  return true;
}

/** A field value collected from one line plus its obs-fold continuations. */
interface PendingField {
  field: FieldName;
  value: string;
  /** Where the next line starts. */
  next: number;
}

export class RequestParser {
  readonly request = new ParsedRequest();
  readonly #limits: ParserLimits;
  #headersFinished = false;
  #completed = false;

  /** Still skipping empty lines / SP / HTAB before the request line (RFC 9112 section 2.2). */
  #skippingLeading = true;
  /** A CR was skipped at the end of the previous read; an LF must follow. */
  #leadingCr = false;
  /** Bytes received for this head so far, leading ones included (the 431 count). */
  #headSize = 0;
  /**
   * Head bytes from earlier reads, copied into one buffer that grows (null until a head
   * spans reads): kept as received, a head sent a byte per segment would hold a Buffer
   * per byte, some 200 bytes of memory each.
   */
  #kept: Buffer | null = null;
  /** How many bytes of #kept are head. */
  #keptLength = 0;

  /** A field name not in the name cache was stored (#storeField). */
  #uncachedName = false;

  /** host[:port] of an absolute-form target, which stands for the Host field (RFC 9112 section 3.2.2). */
  #targetAuthority: string | null = null;
  #bodyRemaining = 0;
  #chunkedDecoder: ChunkedDecoder | null = null;

  constructor(limits: ParserLimits) {
    this.#limits = limits;
  }

  /** The head (request line + headers) is complete and valid (used for 100-continue). */
  get headersFinished(): boolean {
    return this.#headersFinished;
  }

  /** The request is complete: body fully received, or request.error is set. */
  get completed(): boolean {
    return this.#completed;
  }

  /** Feed bytes; returns how many bytes of `data` were consumed (the rest belong to the next request). */
  received(data: Buffer): number {
    if (this.#completed) return 0;
    let consumed = 0;
    if (!this.#headersFinished) {
      consumed = this.#receiveHead(data);
      if (!this.#headersFinished || this.#completed) return consumed;
      if (this.#bodyRemaining === 0 && this.#chunkedDecoder === null) {
        this.#completed = true; // no body
        return consumed;
      }
    }
    try {
      return consumed + this.#receiveBody(consumed === 0 ? data : data.subarray(consumed));
    } catch (err) {
      // Storing the body failed (no descriptor left for its temp file, a full disk): this
      // request is refused, not the whole process brought down from the socket's 'data' event.
      if (!isSystemError(err)) throw err;
      this.request.body?.close();
      this.request.body = null;
      this.#fail(new ServiceUnavailable('The request body could not be stored; try again later', err));
      return data.length;
    }
  }

  #fail(error: HttpError): void {
    this.request.error = error;
    this.#completed = true;
  }

  #receiveHead(data: Buffer): number {
    const start = this.#skippingLeading ? this.#skipLeading(data) : 0;
    if (this.#completed || start === data.length) return data.length;
    let text: string | null = null;
    let end: number;
    if (this.#kept === null && data.length - start <= TEXT_SEARCH_LIMIT) {
      // A short read holding the start of a head (the usual case): convert it to
      // latin-1 text once and search that; the head is then a slice of it.
      text = data.toString('latin1', start);
      const at = text.indexOf('\r\n\r\n');
      end = at === -1 ? -1 : start + at + 4;
    } else {
      end = this.#findHeadEnd(data, start);
    }
    const limit = this.#limits.maxRequestHeaderSize;
    if (end === -1) {
      this.#headSize += data.length - start;
      if (this.#headSize >= limit) {
        this.#fail(this.#headTooLarge(data, start, data.length));
      } else if (hasBareLineBreak(data, start, this.#keptLength === 0 ? -1 : this.#kept![this.#keptLength - 1]!)) {
        this.#noteHeadRequest(data, start);
        this.#fail(new BadRequest(BARE_CR_OR_LF));
      } else {
        this.#keepHeadBytes(data.subarray(start));
      }
      return data.length;
    }
    this.#headSize += end - start;
    if (this.#headSize >= limit) {
      this.#fail(this.#headTooLarge(data, start, end));
      return end;
    }
    try {
      if (text !== null) {
        this.#parseHead(end - start === text.length ? text : text.slice(0, end - start), data, start);
      } else if (this.#kept === null) {
        this.#parseHead(data.toString('latin1', start, end), data, start);
      } else {
        this.#keepHeadBytes(data.subarray(start, end));
        const head = this.#kept.subarray(0, this.#keptLength);
        this.#parseHead(head.toString('latin1'), head, 0);
      }
      this.#headersFinished = true;
    } catch (caught) {
      if (!(caught instanceof Refusal)) throw caught;
      // A refused head keeps no fields: which were stored before the refusal would
      // depend on how its bytes arrived (a bare LF is refused before the head is complete).
      this.request.headers = {};
      this.request.hopFields = null;
      this.#noteHeadRequest(data, start);
      this.#fail(caught.error);
    }
    this.#kept = null;
    this.#keptLength = 0;
    return end;
  }

  /**
   * The refusal of a head over maxRequestHeaderSize, its bytes so far the kept ones
   * and `data[start, end)`: 414 when a request line (`method SP ...`) has not even ended
   * (RFC 9112 section 3 requires it for a target too long to parse), else 431.
   */
  #headTooLarge(data: Buffer, start: number, end: number): HttpError {
    this.#noteHeadRequest(data, start);
    const limit = this.#limits.maxRequestHeaderSize;
    return this.#requestLineLength(data, start, end) >= limit && this.#methodLength(data, start) !== -1
      ? new UriTooLong(`the request line exceeds max_header of ${limit}`)
      : new RequestHeaderFieldsTooLarge(`exceeds max_header of ${limit}`);
  }

  /**
   * A head refused before its request line is parsed may still be a HEAD request's:
   * noted from its first bytes (those kept, then `data`'s), so the page goes without
   * a body. Only refusals pay for this, never a request that is served.
   */
  #noteHeadRequest(data: Buffer, start: number): void {
    if (this.#methodLength(data, start) === 4 && this.#headByteAt(data, start, 0) === 0x48 && this.#headByteAt(data, start, 1) === 0x45 &&
      this.#headByteAt(data, start, 2) === 0x41 && this.#headByteAt(data, start, 3) === 0x44) {
      this.request.method = 'HEAD';
    }
  }

  /** Byte `i` of the head so far: the kept bytes, then `data`'s from `start` (a head may span reads); -1 past its end. */
  #headByteAt(data: Buffer, start: number, i: number): number {
    const keptLength = this.#keptLength;
    if (i < keptLength) return this.#kept![i]!;
    const at = start + i - keptLength;
    return at < data.length ? data[at]! : -1;
  }

  /**
   * Length of the method the head so far begins with (`tchar+ SP`), or -1 when it does not
   * begin so: a line that never ends is then a target too long to parse (414); bytes of no
   * such shape, say a body's overflow read as the next head, are a head too large (431, as
   * Waitress answers them).
   */
  #methodLength(data: Buffer, start: number): number {
    let i = 0;
    let byte = this.#headByteAt(data, start, 0);
    while (byte !== -1 && TCHAR[byte] === 1) byte = this.#headByteAt(data, start, ++i);
    return i > 0 && byte === SP ? i : -1;
  }

  /** Bytes before the request line's LF in the head so far (all of them when it has not ended). */
  #requestLineLength(data: Buffer, start: number, end: number): number {
    const kept = this.#keptLength;
    const at = kept === 0 ? -1 : this.#kept!.subarray(0, kept).indexOf(LF);
    if (at !== -1) return at;
    const next = data.indexOf(LF, start);
    return next !== -1 && next < end ? kept + next - start : kept + end - start;
  }

  /**
   * Skip CRLF pairs, SP and HTAB before the request line. Returns the index of
   * the first head byte (data.length if none yet). Skipped bytes count toward
   * the head size, so an endless stream of empty lines ends in 431.
   */
  #skipLeading(data: Buffer): number {
    let i = 0;
    for (; i < data.length; i++) {
      const b = data[i]!;
      if (this.#leadingCr) {
        if (b !== LF) break;
        this.#leadingCr = false;
      } else if (b === CR) {
        this.#leadingCr = true;
      } else if (!isOws(b)) {
        break;
      }
    }
    this.#headSize += i;
    if (i < data.length && (this.#leadingCr || data[i] === LF)) {
      this.#fail(new BadRequest(BARE_CR_OR_LF));
    } else if (this.#headSize >= this.#limits.maxRequestHeaderSize) {
      this.#fail(new RequestHeaderFieldsTooLarge(`exceeds max_header of ${this.#limits.maxRequestHeaderSize}`));
    } else if (i < data.length) {
      this.#skippingLeading = false;
    }
    return i;
  }

  /** Index just past the first CRLF CRLF in the head (which may have begun in earlier reads), or -1. */
  #findHeadEnd(data: Buffer, start: number): number {
    const kept = this.#keptLength;
    if (kept > 0) {
      // A terminator straddling the boundary lies within the last 3 kept bytes + 3 new ones.
      const tail = this.#kept!.subarray(Math.max(0, kept - 3), kept);
      const probe = Buffer.concat([tail, data.subarray(start, start + 3)]);
      const at = probe.indexOf(HEAD_TERMINATOR);
      if (at !== -1) return start + at + 4 - tail.length;
    }
    const at = data.indexOf(HEAD_TERMINATOR, start);
    return at === -1 ? -1 : at + 4;
  }

  #keepHeadBytes(bytes: Buffer): void {
    const need = this.#keptLength + bytes.length;
    let kept = this.#kept;
    if (kept === null || need > kept.length) {
      // Doubling keeps the copies linear in the head's size; the head limit bounds it.
      const grown = Buffer.allocUnsafe(Math.max(need, MIN_KEPT_HEAD, Math.min(2 * (kept?.length ?? 0), this.#limits.maxRequestHeaderSize)));
      if (kept !== null) kept.copy(grown, 0, 0, this.#keptLength);
      this.#kept = kept = grown;
    }
    bytes.copy(kept, this.#keptLength);
    this.#keptLength = need;
  }

  /**
   * Validate the head (which ends with CRLF CRLF) and fill in the request. It is
   * latin-1 text, one char per byte: every name, value and the target are
   * slices of it, not a conversion each. `bytes[base...]` holds the same bytes:
   * long runs (field lines) are scanned there, as indexing a Buffer is about
   * twice as fast as charCodeAt.
   */
  #parseHead(head: string, bytes: Buffer, base: number): void {
    // Line structure and header fields are checked before the request line is
    // cracked (Waitress's order), so those errors leave request.version at 1.0
    // (and a HEAD request is noted from its bytes: #noteHeadRequest).
    const requestLineEnd = lineEnd(head, 0);
    this.#parseFieldLines(head, bytes, base, requestLineEnd + 2, head.length - 2);
    this.#parseRequestLine(head, bytes, base, requestLineEnd);
    this.#applyFieldSemantics();
  }

  /** Header field lines from `start` to `end`, the empty line ending the head (RFC 9112 section 5). */
  #parseFieldLines(head: string, bytes: Buffer, base: number, start: number, end: number): void {
    const number = ++headsParsed;
    let pending: PendingField | null = null;
    let fieldsLeft = this.#limits.maxRequestHeaderFields;
    for (let pos = start; pos < end; ) {
      // The usual line, `name:value` with only valid bytes, is taken in one pass;
      // anything else goes the long way below, which finds the precise error.
      const field = validFieldLine(head, bytes, base, pos);
      // Continuation lines count too (85 K of them cost as much as 30 K fields); a line that is
      // neither is refused below for what it is.
      if ((field !== null || isOws(head.charCodeAt(pos))) && fieldsLeft-- === 0) {
        refuse(new RequestHeaderFieldsTooLarge(`more than ${this.#limits.maxRequestHeaderFields} header fields`));
      }
      if (field !== null) {
        if (pending !== null) this.#storeField(pending, number);
        pending = field;
        pos = field.next;
        continue;
      }
      const cr = lineEnd(head, pos);
      if (isOws(head.charCodeAt(pos))) {
        // obs-fold (RFC 9112 section 5.2): replaced by one SP.
        if (pending === null) refuse(new BadRequest('Malformed header line'));
        const continuation = fieldValue(head, pos, cr);
        if (continuation !== '') pending.value = pending.value === '' ? continuation : `${pending.value} ${continuation}`;
      } else {
        // Not `name:value` with valid bytes (validFieldLine), and not a bare CR or LF (lineEnd).
        refuse(new BadRequest(INVALID_HEADER));
      }
      pos = cr + 2;
    }
    if (pending !== null) this.#storeField(pending, number);
  }

  #storeField(pending: PendingField, head: number): void {
    const { name, key, flags, use } = pending.field;
    if (key === null) return;
    const request = this.request;
    request.fieldFlags |= flags;
    const headers = (flags & FieldFlag.HopByHop) === 0 ? request.headers : (request.hopFields ??= {});
    let repeated: boolean;
    if (use !== null && !this.#uncachedName) {
      repeated = use.head === head;
      use.head = head;
    } else {
      // A name the cache does not hold has no KeyUse to mark, and another spelling
      // of it may have one: from here on this head's repeats are found in the headers.
      if (use === null) this.#uncachedName = true;
      repeated = headers[key] !== undefined;
    }
    if (!repeated) {
      headers[key] = pending.value;
    } else if (SINGLETON_KEYS.has(key)) {
      refuse(new BadRequest(`Duplicate header: ${name}`));
    } else {
      headers[key] = `${headers[key]!}, ${pending.value}`;
    }
  }

  /**
   * `method SP request-target SP HTTP-version` (RFC 9112 section 3), trailing
   * SP/HTAB tolerated. Sets method, version and target.
   */
  #parseRequestLine(head: string, bytes: Buffer, base: number, requestLineEnd: number): void {
    // Scanned in `bytes` (faster than charCodeAt); `head` is the same bytes from `base` on.
    const start = base;
    let end = base + requestLineEnd;
    while (end > start && isOws(bytes[end - 1]!)) end--;
    let methodEnd = start;
    while (methodEnd < end && TCHAR[bytes[methodEnd]!] === 1) methodEnd++;
    if (methodEnd === start || methodEnd === end || bytes[methodEnd] !== SP) refuse(new BadRequest(START_LINE_INVALID));
    const targetStart = methodEnd + 1;
    let targetEnd = targetStart;
    while (targetEnd < end && bytes[targetEnd] !== SP) targetEnd++;
    if (targetEnd === targetStart || targetEnd >= end) refuse(new BadRequest(START_LINE_INVALID));
    const version = parseVersion(bytes, targetEnd + 1, end);
    const major = version >> 4;
    const minor = version & 0xf;
    const method = methodName(head, bytes, base, start, methodEnd);
    // Methods are tchars (ASCII), so "not upper-case" means "has a byte a-z".
    for (let i = start; i < methodEnd; i++) {
      if (bytes[i]! >= 0x61 && bytes[i]! <= 0x7a) refuse(new BadRequest(`Malformed HTTP method "${method}"`));
    }
    if (major !== 1) refuse(new HttpVersionNotSupported(`HTTP/${major}.${minor} is not supported`));
    // A WSGI app cannot tunnel, and a client takes any 2xx to CONNECT for an open tunnel,
    // sending bytes the server would then parse as requests (RFC 9110 sections 9.1, 9.3.6).
    if (method === 'CONNECT') refuse(new NotImplemented('CONNECT is not supported: garcon does not open tunnels'));
    const request = this.request;
    request.method = method;
    // HTTP/1.x with x > 1 is served as 1.1, the highest minor we speak (RFC 9110 section 2.5).
    request.version = minor === 0 ? '1.0' : '1.1';
    const target = parseRequestTarget(head, targetStart - base, targetEnd - base);
    if (target === null) refuse(new BadRequest('Bad URI'));
    request.target = target.target;
    request.path = target.path;
    request.query = target.query;
    this.#targetAuthority = target.authority;
  }

  /** Host, Connection, Transfer-Encoding, Content-Length and Expect (RFC 9112 sections 3.2, 6, 9.3; RFC 9110 10.1.1). */
  #applyFieldSemantics(): void {
    const request = this.request;
    const headers = request.headers;
    const isHttp11 = request.version === '1.1';
    const host = headers.HTTP_HOST;
    if (host === undefined) {
      if (isHttp11) refuse(new BadRequest('Missing Host header'));
    } else if (host !== lastValidHost) {
      // RFC 9112 section 3.2: 400 for a Host that is not uri-host [":" port]. Apps build URLs from it.
      // An empty Host is allowed; a port with no host (':80') makes an http URI with an empty host,
      // which RFC 9110 section 4.2.1 says to reject.
      if (!isValidHost(host) || host.charCodeAt(0) === 0x3a) refuse(new BadRequest('Invalid Host header'));
      // A copy: a slice would keep this request's head alive until the Host changes.
      lastValidHost = ownCopy(host);
    }
    if (this.#targetAuthority !== null) headers.HTTP_HOST = this.#targetAuthority;

    const hopFields = request.hopFields;
    // A list field of these (every option a field of this head, or a keyword) with more
    // elements than a head may have fields is no real request; 128 K Connection options,
    // each made into an environ key to strip, cost 30 ms a head (RFC 9110 section 5.6.1
    // asks a recipient to bear a reasonable number of empty elements, not any number).
    // Room for the keywords (close, keep-alive, upgrade...) beyond the fields, however low the limit.
    const most = this.#limits.maxRequestHeaderFields + LIST_KEYWORDS;
    const connectionField = hopFields?.HTTP_CONNECTION;
    if (connectionField !== undefined && listLength(connectionField) > most) refuse(new BadRequest(`Connection lists more than ${most} options`));
    const transferEncoding = hopFields?.HTTP_TRANSFER_ENCODING;
    if (transferEncoding !== undefined && listLength(transferEncoding) > most) refuse(new BadRequest(`Transfer-Encoding lists more than ${most} codings`));
    if (connectionField === undefined) {
      request.keepAlive = isHttp11;
    } else {
      request.keepAlive = !hasListElement(connectionField, 'close') && (isHttp11 || hasListElement(connectionField, 'keep-alive'));
    }

    const codings = transferEncoding === undefined ? null : listElements(transferEncoding);
    if (codings !== null) {
      // A 1.0 recipient cannot rely on chunked framing: refusing is the safe
      // answer to a possible smuggling attempt (RFC 9112 section 6.1).
      if (!isHttp11) refuse(new BadRequest('Transfer-Encoding is not allowed in HTTP/1.0 requests'));
      // An empty field is there all the same, and chunked is not its final coding
      // (RFC 9112 section 6.3): refused, as nginx does, not read as absent.
      if (codings.length === 0 || codings.some((coding) => coding !== 'chunked')) {
        refuse(new NotImplemented('Transfer-Encoding requested is not supported.'));
      }
      if (codings.length > 1) {
        refuse(new NotImplemented('Transfer-Encoding is invalid. Multiple chunked encodings requested.'));
      }
      // Transfer-Encoding overrides Content-Length, and a message carrying both
      // must not be trusted for reuse: close after responding (RFC 9112 section 6.1).
      if (headers.CONTENT_LENGTH !== undefined) {
        delete headers.CONTENT_LENGTH;
        request.forceClose = true;
      }
      request.chunked = true;
      const body = new BodyBuffer(this.#limits.inbufOverflow);
      request.body = body;
      this.#chunkedDecoder = new ChunkedDecoder(body, this.#limits.maxRequestBodySize);
    } else if (headers.CONTENT_LENGTH !== undefined) {
      this.#bodyRemaining = this.#contentLength(headers.CONTENT_LENGTH);
      if (this.#bodyRemaining > 0) request.body = new BodyBuffer(this.#limits.inbufOverflow);
    }

    const hasBody = request.chunked || this.#bodyRemaining > 0;
    // Expect is a list (RFC 9110 section 10.1.1): a member 100-continue asks for the 100 (repeated
    // fields arrive joined), whatever else is listed; Waitress wanted the whole value to be it.
    const expect = headers.HTTP_EXPECT;
    request.expectContinue = isHttp11 && hasBody && expect !== undefined && hasListElement(expect, '100-continue');
  }

  /** Content-Length = 1*DIGIT (RFC 9110 section 8.6), refused with 413 when at or over the limit. */
  #contentLength(value: string): number {
    let firstSignificant = -1;
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if (!isAsciiDigit(code)) refuse(new BadRequest('Content-Length is invalid'));
      if (firstSignificant === -1 && code !== 0x30) firstSignificant = i;
    }
    if (value.length === 0) refuse(new BadRequest('Content-Length is invalid'));
    const limit = this.#limits.maxRequestBodySize;
    const digits = firstSignificant === -1 ? '0' : value.slice(firstSignificant);
    // Long digit strings are compared exactly rather than rounded through a double.
    const tooLarge =
      digits.length > MAX_EXACT_DECIMAL_DIGITS
        ? Number.isFinite(limit) && BigInt(digits) >= BigInt(Math.ceil(limit))
        : Number(digits) >= limit;
    if (tooLarge) refuse(new RequestEntityTooLarge(`exceeds max_body of ${limit}`));
    return Number(digits);
  }

  #receiveBody(data: Buffer): number {
    const decoder = this.#chunkedDecoder;
    if (decoder !== null) return this.#receiveChunked(decoder, data);
    const take = Math.min(this.#bodyRemaining, data.length);
    this.request.body?.append(take === data.length ? data : data.subarray(0, take));
    this.#bodyRemaining -= take;
    if (this.#bodyRemaining === 0) this.#completed = true;
    return take;
  }

  #receiveChunked(decoder: ChunkedDecoder, data: Buffer): number {
    const consumed = decoder.received(data);
    if (decoder.error !== null) {
      this.#fail(decoder.error);
    } else if (decoder.done) {
      const request = this.request;
      const length = request.body?.length ?? 0;
      request.headers.CONTENT_LENGTH = String(length);
      if (length === 0) {
        request.body?.close();
        request.body = null;
      }
      this.#completed = true;
    }
    return consumed;
  }
}

/** Methods seen on nearly every request, returned as constants (cheap to compare later) when they match. */
const COMMON_METHODS: readonly string[] = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];

/** The method token `bytes[start, end)`; `head` holds the same bytes from `base` on. */
function methodName(head: string, bytes: Buffer, base: number, start: number, end: number): string {
  const length = end - start;
  for (const name of COMMON_METHODS) {
    if (name.length === length && bytesHold(bytes, start, name)) return name;
  }
  return head.slice(start - base, end - base);
}

/** `HTTP/` DIGIT `.` DIGIT exactly (RFC 9112 section 2.3); returns major << 4 | minor. */
function parseVersion(bytes: Buffer, start: number, end: number): number {
  // "HTTP/" is case-sensitive (RFC 9112 section 2.3).
  if (end - start !== 8 || !bytesHold(bytes, start, 'HTTP/')) refuse(new BadRequest(START_LINE_INVALID));
  const major = bytes[start + 5]!;
  const minor = bytes[start + 7]!;
  if (!isAsciiDigit(major) || bytes[start + 6] !== 0x2e || !isAsciiDigit(minor)) {
    refuse(new BadRequest(START_LINE_INVALID));
  }
  return ((major - 0x30) << 4) | (minor - 0x30);
}

/**
 * The field line starting at `start` when it is `field-name ":" field-value CRLF`
 * with nothing to refuse, in a single scan of `bytes` (which hold `head` from
 * `base` on); null otherwise (an obs-fold, a bad byte, a bare CR or LF), for
 * the caller to judge. The name is hashed as it is checked, so a name seen
 * before is found without making a string (fieldNameAt). The head ends with
 * CRLF CRLF, so both scans stop inside it.
 */
function validFieldLine(head: string, bytes: Buffer, base: number, start: number): PendingField | null {
  const nameStart = base + start;
  let nameEnd = nameStart;
  let hash = 0;
  for (let byte = bytes[nameEnd]!; TCHAR[byte] === 1; byte = bytes[++nameEnd]!) hash = nameHashStep(hash, byte);
  if (nameEnd === nameStart || bytes[nameEnd] !== COLON) return null;
  let end = nameEnd + 1;
  while (isFieldValueByte(bytes[end]!)) end++;
  if (bytes[end] !== CR || bytes[end + 1] !== LF) return null;
  const next = end + 2 - base;
  let valueStart = nameEnd + 1;
  while (valueStart < end && isOws(bytes[valueStart]!)) valueStart++;
  while (end > valueStart && isOws(bytes[end - 1]!)) end--;
  const field = fieldNameAt(bytes, nameStart, nameEnd, hash, head, base);
  return { field, value: head.slice(valueStart - base, end - base), next };
}

/** The value in `head[start, end)` with SP/HTAB (only those) trimmed; other controls are refused. */
function fieldValue(head: string, start: number, end: number): string {
  for (let i = start; i < end; i++) {
    if (!isFieldValueByte(head.charCodeAt(i))) refuse(new BadRequest(INVALID_HEADER));
  }
  while (start < end && isOws(head.charCodeAt(start))) start++;
  while (end > start && isOws(head.charCodeAt(end - 1))) end--;
  return head.slice(start, end);
}
