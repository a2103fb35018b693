// environ['wsgi.file_wrapper'] (PEP 3333 "Optional Platform-Specific File Handling",
// contract decision 5). An app returns `wrapper(file)`; when the file is seekable the
// task sizes the response from it and streams it without passing bytes through the app.

import * as fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { AppContractError } from './errors.js';
import type { FileLike } from './types.js';

export type WrappedFile = FileLike | number | FileHandle;

const DEFAULT_BLOCK_SIZE = 32768;

function isFileHandle(file: unknown): file is FileHandle {
  return typeof file === 'object' && file !== null && typeof (file as FileHandle).fd === 'number' &&
    typeof (file as FileHandle).stat === 'function' && typeof (file as FileHandle).read === 'function';
}

/** The object returned by wsgi.file_wrapper: iterable like any app result, sendable directly by the task. */
export class FileWrapper implements Iterable<Uint8Array> {
  readonly file: WrappedFile;
  readonly blockSize: number;

  constructor(file: WrappedFile, blockSize: number = DEFAULT_BLOCK_SIZE) {
    if (!Number.isInteger(blockSize) || blockSize <= 0) {
      throw new AppContractError(`wsgi.file_wrapper blockSize must be a positive integer, got ${String(blockSize)}`);
    }
    const usable = typeof file === 'number' ? Number.isInteger(file) && file >= 0 :
      isFileHandle(file) || (typeof file === 'object' && file !== null && typeof (file as FileLike).read === 'function');
    if (!usable) throw new AppContractError('wsgi.file_wrapper needs a file-like object with read(size), a file descriptor or a FileHandle');
    this.file = file;
    this.blockSize = blockSize;
  }

  /** The descriptor to stream from, for a numeric fd or a FileHandle (sent from offset 0: Node has no lseek). */
  get fd(): number | null {
    if (typeof this.file === 'number') return this.file;
    return isFileHandle(this.file) ? this.file.fd : null;
  }

  /** Contract decision 5: seekable() when the file says so, else having both seek and tell. */
  seekable(): boolean {
    if (this.fd !== null) return true;
    const f = this.file as FileLike;
    if (typeof f.seekable === 'function') return Boolean(f.seekable());
    return typeof f.seek === 'function' && typeof f.tell === 'function';
  }

  /**
   * Bytes available from the current position to the end (seekable files only).
   * For a file-like object: tell, seek to the end, tell, seek back.
   */
  available(): number {
    const fd = this.fd;
    if (fd !== null) return fs.fstatSync(fd).size;
    const f = this.file as Required<Pick<FileLike, 'seek' | 'tell'>>;
    const position = f.tell();
    const end = f.seek(0, 2);
    f.seek(position, 0);
    return Math.max(0, end - position);
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

  /** Blocks of blockSize until an empty read (PEP 3333 iteration). */
  *[Symbol.iterator](): Iterator<Uint8Array> {
    const fd = this.fd;
    if (fd !== null) {
      let position = 0;
      for (;;) {
        const block = Buffer.allocUnsafe(this.blockSize);
        const n = fs.readSync(fd, block, 0, this.blockSize, position);
        if (n === 0) return;
        position += n;
        yield block.subarray(0, n);
      }
    }
    const f = this.file as FileLike;
    for (;;) {
      const block = f.read(this.blockSize);
      if (!block || block.length === 0) return;
      yield block;
    }
  }

  close(): void {
    if (typeof this.file === 'number') {
      fs.closeSync(this.file);
    } else if (isFileHandle(this.file)) {
      // A FileHandle closes asynchronously; a failure here has nowhere useful to go.
      this.file.close().catch(() => undefined);
    } else {
      this.file.close?.();
    }
  }
}

/** The callable placed in environ['wsgi.file_wrapper']. */
export function fileWrapper(file: WrappedFile, blockSize?: number): FileWrapper {
  return new FileWrapper(file, blockSize);
}
