// Request bodies: kept in memory while small, spilled to an anonymous temp file
// once they reach `inbufOverflow` bytes (Waitress's OverflowableBuffer), so a
// 1 GiB upload costs the server a file descriptor, not a gigabyte of RAM.
// wsgi.input must be synchronous (PEP 3333), hence the fs.*Sync calls.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { AppContractError, InputClosedError } from './errors.js';
import type { WsgiInput } from './types.js';

const EMPTY = Buffer.alloc(0);
const LF = 0x0a;
/** Read size used when scanning a spilled body for line ends. */
const LINE_SCAN_BLOCK = 8192;

/** Create an anonymous temp file: opened, then unlinked at once, so nothing is left behind even on a crash. */
function openAnonymousTempFile(): number {
  const file = path.join(os.tmpdir(), `garcon-body-${process.pid}-${randomBytes(8).toString('hex')}`);
  const fd = fs.openSync(file, 'wx+', 0o600);
  try {
    fs.unlinkSync(file);
  } catch (err) {
    // A directory that lets files be made but not removed (chattr +a, odd mounts): a body
    // refused for it must not also hold a descriptor for good (its empty file stays: nothing can remove it).
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

/** Write all of `data` to `fd` at `position` (writeSync may write less than asked). */
function writeFully(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) {
    done += fs.writeSync(fd, data, done, data.length - done, position + done);
  }
}

/**
 * Pieces of a body smaller than this are copied into blocks of this size rather than
 * kept as slices: a chunked body of 1-byte chunks would otherwise cost a Buffer object
 * per byte, each keeping a whole socket read alive (88 MB held for 3 MB sent). A larger
 * piece is kept as given: it holds at most a 64 KiB read, 4 times its size; so are the
 * first SMALL_PIECES_KEPT small ones.
 */
const BLOCK = 16384;
/** Small pieces kept as given before gathering starts: a body's usual one to three reads are not copied. */
const SMALL_PIECES_KEPT = 4;
/** Pieces this short are copied into a block a byte at a time. */
const BYTEWISE_COPY_MAX = 32;

/** Accumulates one request body; see the module comment. */
export class BodyBuffer {
  readonly #overflow: number;
  /** The body so far, in order, less the block being filled (in memory, until spilled). */
  #chunks: Buffer[] = [];
  #length = 0;
  /** Bytes in #chunks, or in the temp file once spilled: all but the block's. */
  #stored = 0;
  /** Small pieces are copied here; its first #blockUsed bytes come after #chunks (or the file's bytes). */
  #block: Buffer | null = null;
  #blockUsed = 0;
  /** Small pieces kept as given so far (at most SMALL_PIECES_KEPT). */
  #smallKept = 0;
  #fd: number | null = null;
  #closed = false;
  /** The readers handed out: closed with the body, so none reads on once its request is over. */
  #inputs: BaseInput[] = [];

  /** @param overflow size at which the body moves to a temp file (inbufOverflow) */
  constructor(overflow: number) {
    this.#overflow = overflow;
  }

  get length(): number {
    return this.#length;
  }

  /** True once the body lives in a temp file. */
  get spilled(): boolean {
    return this.#fd !== null;
  }

  /**
   * Append `data[start, end)`. A large piece is kept as given (a view, not copied) while
   * in memory, and so are the first few small ones; later small ones are copied into
   * blocks (see BLOCK) straight from `data`, with no view made (a chunked body of 1-byte
   * chunks appends once per byte).
   */
  append(data: Buffer, start = 0, end = data.length): void {
    const length = end - start;
    if (length === 0) return;
    if (length >= BLOCK) {
      this.#sealBlock();
      this.#store(data.subarray(start, end));
    } else if (this.#block === null && this.#smallKept < SMALL_PIECES_KEPT) {
      this.#smallKept++;
      this.#store(data.subarray(start, end));
    } else {
      this.#gather(data, start, end);
    }
    this.#length += length;
    if (this.#fd === null && this.#length >= this.#overflow) this.#spill();
  }

  /** Copy `data[start, end)` into the block, starting a new one as needed. */
  #gather(data: Buffer, start: number, end: number): void {
    let offset = start;
    const block = this.#block;
    if (block !== null && end - start <= BYTEWISE_COPY_MAX && this.#blockUsed + end - start < BLOCK) {
      // A few bytes copy faster one by one than through Buffer.copy's native call.
      let used = this.#blockUsed;
      while (offset < end) block[used++] = data[offset++]!;
      this.#blockUsed = used;
      return;
    }
    while (offset < end) {
      this.#block ??= Buffer.allocUnsafeSlow(BLOCK);
      const copied = data.copy(this.#block, this.#blockUsed, offset, end);
      this.#blockUsed += copied;
      offset += copied;
      if (this.#blockUsed === BLOCK) this.#sealBlock();
    }
  }

  /** The block's bytes join the body's stored bytes; the next small piece starts a new block. */
  #sealBlock(): void {
    const block = this.#block;
    if (block === null) return;
    const used = this.#blockUsed;
    this.#block = null;
    this.#blockUsed = 0;
    if (used > 0) this.#store(used === BLOCK ? block : block.subarray(0, used));
  }

  /** Keep `data` after the stored bytes: in memory, or at the end of the temp file. */
  #store(data: Buffer): void {
    if (this.#fd === null) this.#chunks.push(data);
    else writeFully(this.#fd, data, this.#stored);
    this.#stored += data.length;
  }

  #spill(): void {
    const fd = openAnonymousTempFile();
    try {
      let position = 0;
      for (const chunk of this.#chunks) {
        writeFully(fd, chunk, position);
        position += chunk.length;
      }
    } catch (err) {
      fs.closeSync(fd); // a full disk must not cost a descriptor too
      throw err;
    }
    this.#chunks = [];
    this.#fd = fd;
  }

  /** A fresh synchronous reader positioned at the start of the body. */
  input(): WsgiInput {
    this.#sealBlock();
    let input: BaseInput;
    if (this.#fd !== null) {
      input = new FileInput(this.#fd, this.#length);
    } else {
      const whole = ownBytes(this.#chunks, this.#length);
      this.#chunks = [whole];
      input = new MemoryInput(whole);
    }
    this.#inputs.push(input);
    return input;
  }

  /**
   * Release memory and the temp file, and close the readers: an app that kept one
   * must not read through a descriptor number the next request's temp file may get.
   * Safe to call more than once.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const input of this.#inputs) input.close();
    this.#inputs = [];
    this.#chunks = [];
    this.#block = null;
    if (this.#fd !== null) {
      fs.closeSync(this.#fd);
      this.#fd = null;
    }
  }
}

/**
 * The body in one Buffer with an ArrayBuffer of its own. A body kept as a view of a socket
 * read shares that read's memory with the request head (its Cookie, its Authorization, proxy
 * headers the environ was cleared of), and Buffer.concat's pooled result shares memory with
 * other requests' data: an app reaching `.buffer` must see neither.
 */
function ownBytes(chunks: readonly Buffer[], length: number): Buffer {
  if (chunks.length === 1) {
    const only = chunks[0]!;
    if (only.byteOffset === 0 && only.length === only.buffer.byteLength) return only;
  }
  const whole = Buffer.allocUnsafeSlow(length);
  let offset = 0;
  for (const chunk of chunks) offset += chunk.copy(whole, offset);
  return whole;
}

/** A reader over no bytes, for requests without a body. */
export function emptyInput(): WsgiInput {
  return new MemoryInput(EMPTY);
}

/** A read size: -1 (everything) for none or a negative one; an integer, or the app misused the input. */
function sizeArgument(size: unknown, method: string): number {
  if (size === undefined || size === null) return -1;
  if (typeof size !== 'number' || !Number.isInteger(size)) {
    throw new AppContractError(`wsgi.input.${method}() takes an integer size or none, got ${typeof size === 'string' ? JSON.stringify(size) : String(size)}`);
  }
  return size;
}

/** Shared positioning and line logic; subclasses supply byte access. */
abstract class BaseInput implements WsgiInput {
  protected position = 0;
  protected readonly size: number;
  #closed = false;

  constructor(size: number) {
    this.size = size;
  }

  /** Copy (or slice) `length` bytes starting at `start`. */
  protected abstract bytes(start: number, length: number): Buffer;
  /** Offset of the first LF at or after `start` and before `end`, or -1. */
  protected abstract findLf(start: number, end: number): number;

  #checkOpen(): void {
    if (this.#closed) throw new InputClosedError();
  }

  read(size?: number | null): Buffer {
    this.#checkOpen();
    const wanted = sizeArgument(size, 'read');
    const remaining = this.size - this.position;
    const n = wanted < 0 ? remaining : Math.min(wanted, remaining);
    if (n <= 0) return EMPTY;
    const out = this.bytes(this.position, n);
    this.position += n;
    return out;
  }

  readline(size?: number | null): Buffer {
    this.#checkOpen();
    const wanted = sizeArgument(size, 'readline');
    const limit = wanted < 0 ? this.size : Math.min(this.size, this.position + wanted);
    if (this.position >= limit) return EMPTY;
    const lf = this.findLf(this.position, limit);
    const end = lf === -1 ? limit : lf + 1;
    const out = this.bytes(this.position, end - this.position);
    this.position = end;
    return out;
  }

  readlines(hint?: number | null): Buffer[] {
    const most = sizeArgument(hint, 'readlines');
    const lines: Buffer[] = [];
    let total = 0;
    for (;;) {
      const line = this.readline();
      if (line.length === 0) return lines;
      lines.push(line);
      total += line.length;
      if (most > 0 && total >= most) return lines;
    }
  }

  seek(offset: number, whence = 0): number {
    this.#checkOpen();
    const base = whence === 0 ? 0 : whence === 1 ? this.position : whence === 2 ? this.size : NaN;
    const target = base + offset;
    if (!Number.isInteger(target) || target < 0) throw new RangeError(`invalid seek (${offset}, ${whence})`);
    this.position = target;
    return target;
  }

  tell(): number {
    this.#checkOpen();
    return this.position;
  }

  *[Symbol.iterator](): Iterator<Buffer> {
    for (;;) {
      const line = this.readline();
      if (line.length === 0) return;
      yield line;
    }
  }

  /** Later reads, seeks and tells throw InputClosedError (as Python's closed files raise). */
  close(): void {
    this.#closed = true;
  }
}

class MemoryInput extends BaseInput {
  readonly #data: Buffer;
  constructor(data: Buffer) {
    super(data.length);
    this.#data = data;
  }
  protected bytes(start: number, length: number): Buffer {
    return this.#data.subarray(start, start + length);
  }
  protected findLf(start: number, end: number): number {
    const i = this.#data.indexOf(LF, start);
    return i === -1 || i >= end ? -1 : i;
  }
}

class FileInput extends BaseInput {
  readonly #fd: number;
  constructor(fd: number, size: number) {
    super(size);
    this.#fd = fd;
  }
  protected bytes(start: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.#fd, out, done, length - done, start + done);
      if (n === 0) break;
      done += n;
    }
    return done === length ? out : out.subarray(0, done);
  }
  protected findLf(start: number, end: number): number {
    const block = Buffer.allocUnsafe(LINE_SCAN_BLOCK);
    for (let at = start; at < end; at += LINE_SCAN_BLOCK) {
      const n = fs.readSync(this.#fd, block, 0, Math.min(LINE_SCAN_BLOCK, end - at), at);
      if (n === 0) return -1;
      const i = block.subarray(0, n).indexOf(LF);
      if (i !== -1) return at + i;
    }
    return -1;
  }
}
