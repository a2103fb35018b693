// Chunked transfer coding decoder for request bodies (RFC 9112 section 7.1),
// a byte-at-a-time state machine so that any split of the input across reads
// gives the same result and nothing is ever rescanned.
//
// Stricter than Waitress on purpose: no whitespace anywhere in the size line,
// no empty size lines, no bare CR or LF (contract decision 15), size lines capped
// at MAX_SIZE_LINE bytes, and trailer fields validated like header fields.

import type { BodyBuffer } from './buffers.js';
import { BARE_CR_OR_LF, BadRequest, INVALID_HEADER, RequestEntityTooLarge, type HttpError } from './errors.js';
import { TCHAR, isFieldValueByte, isQdtext, isQuotedPairChar } from './header-names.js';

const CR = 0x0d;
const LF = 0x0a;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/** Longest accepted chunk-size line (size and extensions, without CRLF). */
export const MAX_SIZE_LINE = 4096;
/**
 * Significant hex digits that still fit exactly in a double: 16^13 = 2^52.
 * A longer size is at least 4 PiB, beyond any body limit, so it is refused as too large.
 */
const MAX_EXACT_SIZE_DIGITS = 13;

const INVALID_SIZE = 'Invalid chunk size';
const INVALID_EXTENSION = 'Invalid chunk extension';
const NOT_TERMINATED = 'Chunk not properly terminated';

const enum State {
  SizeStart,
  Size,
  ExtNameStart,
  ExtName,
  ExtValueStart,
  ExtValueToken,
  ExtQuoted,
  ExtQuotedPair,
  ExtAfterQuoted,
  SizeLineLf,
  Data,
  DataCr,
  DataLf,
  TrailerLineStart,
  TrailerName,
  TrailerValue,
  TrailerLineLf,
  TrailerEndLf,
  Done,
}

function hexDigit(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Decodes one chunked body into a BodyBuffer. */
export class ChunkedDecoder {
  readonly #body: BodyBuffer;
  readonly #maxBodySize: number;
  #state = State.SizeStart;
  /** Raw bytes consumed (framing included): what the body limit counts (Waitress's rule). */
  #rawLength = 0;
  #sizeLineLength = 0;
  /** The size line has reached its extensions: errors there name the extension. */
  #inExtensions = false;
  #chunkSize = 0;
  #significantDigits = 0;
  #chunkRemaining = 0;
  #error: HttpError | null = null;

  /** @param maxBodySize raw bytes (framing included) at which the body is refused with 413 */
  constructor(body: BodyBuffer, maxBodySize: number) {
    this.#body = body;
    this.#maxBodySize = maxBodySize;
  }

  /** The last chunk and the trailer section have been received. */
  get done(): boolean {
    return this.#state === State.Done;
  }

  /** Set when the body is refused; no more bytes are consumed after that. */
  get error(): HttpError | null {
    return this.#error;
  }

  /**
   * Feed bytes; returns how many were consumed. Bytes after the end of the
   * body belong to the next request. After an error the whole read counts as
   * consumed, and as body bytes for the limit, so an oversized body gets 413
   * even when the framing also breaks in the same read.
   */
  received(data: Buffer): number {
    if (this.done || this.#error !== null) return 0;
    let i = 0;
    while (i < data.length && this.#state !== State.Done && this.#error === null) {
      if (this.#state === State.Data) {
        const take = Math.min(this.#chunkRemaining, data.length - i);
        this.#body.append(data, i, i + take);
        this.#chunkRemaining -= take;
        this.#rawLength += take;
        i += take;
        if (this.#chunkRemaining === 0) this.#state = State.DataCr;
      } else {
        this.#rawLength++;
        this.#step(data[i]!);
        i++;
      }
    }
    if (this.#error !== null) {
      this.#rawLength += data.length - i;
      i = data.length;
    }
    if (this.#rawLength >= this.#maxBodySize) this.#error = this.#tooLarge();
    return i;
  }

  #tooLarge(): HttpError {
    return new RequestEntityTooLarge(`exceeds max_body of ${this.#maxBodySize}`);
  }

  #fail(detail: string): void {
    this.#error = new BadRequest(detail);
  }

  #step(byte: number): void {
    switch (this.#state) {
      case State.SizeStart:
      case State.Size:
        this.#sizeByte(byte);
        return;
      case State.ExtNameStart:
      case State.ExtName:
      case State.ExtValueStart:
      case State.ExtValueToken:
      case State.ExtQuoted:
      case State.ExtQuotedPair:
      case State.ExtAfterQuoted:
        this.#extensionByte(byte);
        return;
      case State.SizeLineLf:
        if (byte === LF) this.#sizeLineDone();
        else this.#fail(this.#inExtensions ? INVALID_EXTENSION : INVALID_SIZE);
        return;
      case State.DataCr:
        if (byte === CR) this.#state = State.DataLf;
        else this.#fail(NOT_TERMINATED);
        return;
      case State.DataLf:
        if (byte === LF) this.#startSizeLine();
        else this.#fail(NOT_TERMINATED);
        return;
      default:
        this.#trailerByte(byte);
    }
  }

  #startSizeLine(): void {
    this.#state = State.SizeStart;
    this.#sizeLineLength = 0;
    this.#inExtensions = false;
    this.#chunkSize = 0;
    this.#significantDigits = 0;
  }

  /** Counts a size-line byte (the closing CR aside); false (and an error) once the line is too long. */
  #countSizeLineByte(byte: number): boolean {
    if (byte !== CR) this.#sizeLineLength++;
    if (this.#sizeLineLength <= MAX_SIZE_LINE) return true;
    this.#fail(INVALID_SIZE);
    return false;
  }

  #sizeByte(byte: number): void {
    if (!this.#countSizeLineByte(byte)) return;
    const digit = hexDigit(byte);
    if (digit !== -1) {
      this.#state = State.Size;
      if (this.#significantDigits > 0 || digit !== 0) this.#significantDigits++;
      // Past the exact range only the digit count matters (see MAX_EXACT_SIZE_DIGITS).
      if (this.#significantDigits <= MAX_EXACT_SIZE_DIGITS) this.#chunkSize = this.#chunkSize * 16 + digit;
      return;
    }
    // chunk-size = 1*HEXDIG, then extensions or CRLF (RFC 9112 section 7.1).
    if (this.#state === State.Size && byte === SEMICOLON) {
      this.#state = State.ExtNameStart;
      this.#inExtensions = true;
    }
    else if (this.#state === State.Size && byte === CR) this.#state = State.SizeLineLf;
    else this.#fail(INVALID_SIZE);
  }

  /** chunk-ext = *( ";" token [ "=" ( token / quoted-string ) ] ), no BWS accepted (RFC 9112 section 7.1.1). */
  #extensionByte(byte: number): void {
    if (!this.#countSizeLineByte(byte)) return;
    const isToken = TCHAR[byte] === 1;
    switch (this.#state) {
      case State.ExtNameStart:
        if (isToken) this.#state = State.ExtName;
        else this.#fail(INVALID_EXTENSION);
        return;
      case State.ExtName:
        if (isToken) return;
        if (byte === EQUALS) this.#state = State.ExtValueStart;
        else this.#endOfExtension(byte);
        return;
      case State.ExtValueStart:
        if (isToken) this.#state = State.ExtValueToken;
        else if (byte === DQUOTE) this.#state = State.ExtQuoted;
        else this.#fail(INVALID_EXTENSION);
        return;
      case State.ExtValueToken:
        if (!isToken) this.#endOfExtension(byte);
        return;
      case State.ExtQuoted:
        if (byte === DQUOTE) this.#state = State.ExtAfterQuoted;
        else if (byte === BACKSLASH) this.#state = State.ExtQuotedPair;
        else if (!isQdtext(byte)) this.#fail(INVALID_EXTENSION);
        return;
      case State.ExtQuotedPair:
        if (isQuotedPairChar(byte)) this.#state = State.ExtQuoted;
        else this.#fail(INVALID_EXTENSION);
        return;
      default:
        this.#endOfExtension(byte);
    }
  }

  /** After a complete extension: another one, or the end of the size line. */
  #endOfExtension(byte: number): void {
    if (byte === SEMICOLON) this.#state = State.ExtNameStart;
    else if (byte === CR) this.#state = State.SizeLineLf;
    else this.#fail(INVALID_EXTENSION);
  }

  #sizeLineDone(): void {
    if (this.#significantDigits === 0) {
      this.#state = State.TrailerLineStart;
      return;
    }
    // Refuse at once a chunk that cannot fit, rather than after receiving it.
    const rawAfterChunk = this.#rawLength + this.#chunkSize;
    if (this.#significantDigits > MAX_EXACT_SIZE_DIGITS || rawAfterChunk >= this.#maxBodySize) {
      this.#error = this.#tooLarge();
      return;
    }
    this.#chunkRemaining = this.#chunkSize;
    this.#state = State.Data;
  }

  #trailerByte(byte: number): void {
    switch (this.#state) {
      case State.TrailerLineStart:
        if (byte === CR) this.#state = State.TrailerEndLf;
        else if (TCHAR[byte] === 1) this.#state = State.TrailerName;
        else this.#fail(byte === LF ? BARE_CR_OR_LF : INVALID_HEADER);
        return;
      case State.TrailerEndLf:
        if (byte === LF) this.#state = State.Done;
        else this.#fail(BARE_CR_OR_LF);
        return;
      case State.TrailerName:
        if (byte === COLON) this.#state = State.TrailerValue;
        else if (TCHAR[byte] !== 1) this.#fail(byte === LF ? BARE_CR_OR_LF : INVALID_HEADER);
        return;
      case State.TrailerValue:
        if (byte === CR) this.#state = State.TrailerLineLf;
        else if (byte === LF) this.#fail(BARE_CR_OR_LF);
        else if (!isFieldValueByte(byte)) this.#fail(INVALID_HEADER);
        return;
      default:
        // TrailerLineLf
        if (byte === LF) this.#state = State.TrailerLineStart;
        else this.#fail(BARE_CR_OR_LF);
    }
  }
}
