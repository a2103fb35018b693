// environ['wsgi.file_wrapper'] (PEP 3333 "Optional Platform-Specific File Handling",
// contract decision 5). An app returns `wrapper(file)`; when the file is seekable the
// task sizes the response from it and streams it without passing bytes through the app.

import * as fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { AppContractError } from './errors.js';
import type { FileLike } from './types.js';

export type WrappedFile = FileLike | number | FileHandle;

const DEFAULT_BLOCK_SIZE = 32768;

/**
 * The current offset of `fd`. Node has no lseek(), so it is read from Linux's
 * /proc/self/fdinfo; where that does not exist the file is sent from its start.
 */
function descriptorOffset(fd: number): number {
  let info: string;
  try {
    info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1');
  } catch {
    return 0;
  }
  const match = /^pos:\s*(\d+)/m.exec(info);
  return match === null ? 0 : Number(match[1]);
}

/** Where a seekable file's response starts, and how many bytes it has from there. */
export interface FileExtent {
  /** The offset to read a descriptor from (a file-like object reads from its own position). */
  readonly start: number;
  readonly available: number;
}

/** A position from a wrapped file's tell(): it becomes the Content-Length, so digits only. */
function filePosition(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw new AppContractError(`a wrapped file's tell() must return a non-negative integer, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
}

function isFileHandle(file: unknown): file is FileHandle {
  return typeof file === 'object' && file !== null && typeof (file as FileHandle).fd === 'number' &&
    typeof (file as FileHandle).stat === 'function' && typeof (file as FileHandle).read === 'function';
}

/**
 * What a file-like object's read() gave, checked (contract decision 5): a Uint8Array,
 * empty only at the end of the file. null is no end: a stream.Readable says that when
 * it has nothing buffered yet, and taking it for one would cut the body short.
 */
export function fileLikeBlock(read: unknown): Uint8Array {
  if (read instanceof Uint8Array) return read;
  throw new AppContractError(`a wrapped file's read() must return a Uint8Array (empty at the end of the file), got ${read === null ? 'null' : typeof read}`);
}

/** The object returned by wsgi.file_wrapper: iterable like any app result, sendable directly by the task. */
export class FileWrapper implements Iterable<Uint8Array> {
  readonly file: WrappedFile;
  readonly blockSize: number;
  /** fstat of a descriptor, taken once. */
  #stats: fs.Stats | null = null;

  constructor(file: WrappedFile, blockSize: number = DEFAULT_BLOCK_SIZE) {
    if (!Number.isInteger(blockSize) || blockSize <= 0) {
      throw new AppContractError(`wsgi.file_wrapper blockSize must be a positive integer, got ${String(blockSize)}`);
    }
    const usable = typeof file === 'number' ? Number.isInteger(file) && file >= 0 :
      isFileHandle(file) || (typeof file === 'object' && file !== null && typeof (file as FileLike).read === 'function');
    if (!usable) throw new AppContractError('wsgi.file_wrapper needs a file-like object with read(size), a file descriptor or a FileHandle');
    if (file instanceof Readable) {
      // Its read() answers null until data has come: sent through here, a stream would give an empty body.
      // Destroyed: nothing else will close what it opened.
      file.destroy();
      throw new AppContractError('wsgi.file_wrapper takes a file-like object with a synchronous read(size), a file descriptor or a FileHandle, not a stream.Readable: return the stream itself (an async iterable) instead');
    }
    this.file = file;
    this.blockSize = blockSize;
  }

  /** The descriptor to stream from, for a numeric fd or a FileHandle. */
  get fd(): number | null {
    if (typeof this.file === 'number') return this.file;
    return isFileHandle(this.file) ? this.file.fd : null;
  }

  #fdStats(fd: number): fs.Stats {
    return (this.#stats ??= fs.fstatSync(fd));
  }

  /**
   * Contract decision 5: seekable() when the file says so, else having both seek
   * and tell. A descriptor is when it is a regular file with a size: a pipe, a
   * device or a /proc file (which says 0 bytes) is read until it ends instead.
   */
  seekable(): boolean {
    const fd = this.fd;
    if (fd !== null) {
      const stats = this.#fdStats(fd);
      return stats.isFile() && stats.size > 0;
    }
    const f = this.file as FileLike;
    if (typeof f.seekable === 'function') return Boolean(f.seekable());
    return typeof f.seek === 'function' && typeof f.tell === 'function';
  }

  /**
   * The current position and the bytes from it to the end (seekable files only).
   * For a file-like object: tell, seek to the end, tell, seek back. Positions come
   * from tell(), as Waitress reads them: a seek() that returns nothing is common.
   */
  extent(): FileExtent {
    const fd = this.fd;
    if (fd !== null) {
      const start = descriptorOffset(fd);
      return { start, available: Math.max(0, this.#fdStats(fd).size - start) };
    }
    const f = this.file as Required<Pick<FileLike, 'seek' | 'tell'>>;
    const position = filePosition(f.tell());
    f.seek(0, 2);
    const end = filePosition(f.tell());
    f.seek(position, 0);
    return { start: position, available: Math.max(0, end - position) };
  }

  seek(offset: number, whence = 0): number {
    const f = this.file as FileLike;
    if (typeof f === 'object' && typeof f.seek === 'function') return f.seek(offset, whence);
    throw new AppContractError('this wrapped file cannot seek');
  }

  tell(): number {
    const f = this.file as FileLike;
    if (typeof f === 'object' && typeof f.tell === 'function') return f.tell();
    throw new AppContractError('this wrapped file cannot tell');
  }

  /** Blocks of blockSize until an empty read (PEP 3333 iteration), from the current position. */
  *[Symbol.iterator](): Iterator<Uint8Array> {
    const fd = this.fd;
    if (fd !== null) {
      for (;;) {
        const block = Buffer.allocUnsafe(this.blockSize);
        // position null: read where the descriptor is, and move it (pipes and devices have no positions).
        const n = fs.readSync(fd, block, 0, this.blockSize, null);
        if (n === 0) return;
        yield block.subarray(0, n);
      }
    }
    const f = this.file as FileLike;
    for (;;) {
      const block = fileLikeBlock(f.read(this.blockSize));
      if (block.length === 0) return;
      // Copied: a file-like object may read into one buffer again and again (fs.readSync does).
      yield Buffer.from(block);
    }
  }

  /** Close the file; what a file-like object's close() returns (a Promise, maybe) is the caller's to watch. */
  close(): unknown {
    if (typeof this.file === 'number') {
      fs.closeSync(this.file);
    } else if (isFileHandle(this.file)) {
      // A FileHandle closes asynchronously; a failure here has nowhere useful to go.
      this.file.close().catch(() => undefined);
    } else {
      return this.file.close?.();
    }
    return undefined;
  }
}

/** The callable placed in environ['wsgi.file_wrapper']. */
export function fileWrapper(file: WrappedFile, blockSize?: number): FileWrapper {
  return new FileWrapper(file, blockSize);
}
