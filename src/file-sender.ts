// Streams a seekable wsgi.file_wrapper file to the socket: sized by the task,
// read straight from the file (never through the app), the next block read
// while the previous one is being sent, blocks reused once the kernel has them.

import * as fs from 'node:fs';
import { ClientDisconnected } from './errors.js';
import { fileLikeBlock, type FileWrapper } from './file-wrapper.js';

/** Read size when streaming a file. */
const FILE_BLOCK = 131072;
/**
 * Bytes of a file queued on the socket before reading waits: small enough to stay
 * in the CPU's cache (the app's outbufHighWatermark is for what apps produce).
 */
const FILE_IN_FLIGHT = 1 << 20;
/** Free blocks kept for reuse: about what FILE_IN_FLIGHT keeps in use, plus the one being read. */
const POOL_SIZE = FILE_IN_FLIGHT / FILE_BLOCK + 1;

/** Where the file goes: the connection, as the task sees it. */
export interface FileSink {
  readonly connected: boolean;
  /** `onWritten` runs once the bytes are handed to the kernel (the buffer may be reused). */
  write(data: Uint8Array, onWritten?: () => void): void;
  needsDrain(limit: number): boolean;
  drained(limit: number): Promise<void>;
}

/** Blocks for file reads, handed back once written. */
class BlockPool {
  readonly #free: Buffer[] = [];

  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(FILE_BLOCK);
  }

  give(block: Buffer): void {
    if (this.#free.length < POOL_SIZE) this.#free.push(block);
  }
}

/** Read up to `length` bytes of `fd` at `position` into `block`. */
function readAt(fd: number, block: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, block, 0, length, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead)));
  });
}

/**
 * Send `total` bytes of the wrapped file, a descriptor from offset `start` (a file-like
 * object from its own position); returns how many were sent (fewer if the file was shorter).
 */
export async function streamFile(wrapper: FileWrapper, start: number, total: number, sink: FileSink): Promise<number> {
  const fd = wrapper.fd;
  if (fd === null) return streamFileLike(wrapper, total, sink);
  const pool = new BlockPool();
  const end = start + total;
  let position = start;
  let block = pool.take();
  let next: Promise<number> | null = total > 0 ? readAt(fd, block, Math.min(FILE_BLOCK, total), start) : null;
  try {
    while (next !== null) {
      if (!sink.connected) throw new ClientDisconnected();
      const length = await next;
      const current = block;
      position += length;
      next = null;
      if (length > 0 && position < end) {
        block = pool.take();
        next = readAt(fd, block, Math.min(FILE_BLOCK, end - position), position);
      }
      if (length === 0) break;
      sink.write(current.subarray(0, length), () => pool.give(current));
      if (sink.needsDrain(FILE_IN_FLIGHT)) await sink.drained(FILE_IN_FLIGHT);
    }
  } finally {
    // A read still in flight (the client left) must not leave an unhandled rejection behind.
    next?.catch(() => undefined);
  }
  return Math.min(position - start, total);
}

/** A seekable file-like object: its own read(), in blocks. */
async function streamFileLike(wrapper: FileWrapper, total: number, sink: FileSink): Promise<number> {
  const file = wrapper.file as { read(n: number): unknown };
  let sent = 0;
  while (sent < total) {
    if (!sink.connected) throw new ClientDisconnected();
    const room = total - sent;
    const read = fileLikeBlock(file.read(Math.min(FILE_BLOCK, room)));
    if (read.length === 0) break;
    // A read() that returns more than asked must not push the body past its Content-Length.
    const block = read.length > room ? read.subarray(0, room) : read;
    sent += block.length;
    // Copied: a file-like object may read into one buffer again and again (fs.readSync does).
    sink.write(Buffer.from(block));
    if (sink.needsDrain(FILE_IN_FLIGHT)) await sink.drained(FILE_IN_FLIGHT);
  }
  return sent;
}
