// The large-file scenario's client: one download over a fresh connection,
// timed from connect to the last byte, with the body counted (not kept).

import * as net from 'node:net';

export interface Download {
  bodyBytes: number;
  ms: number;
}

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/** Parse the status code and Content-Length of a response head (our own server's output). */
export function parseResponseHead(head: string): { status: number; contentLength: number | null } {
  const status = Number(head.slice(9, 12));
  const match = /^content-length:[ \t]*(\d+)[ \t]*$/im.exec(head);
  return { status, contentLength: match === null ? null : Number(match[1]) };
}

/** GET `path` with Connection: close; rejects unless the answer is a 200 whose body matches its Content-Length. */
export function download(port: number, path: string, timeoutMs: number): Promise<Download> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const socket = net.connect(port, '127.0.0.1');
    let head: Buffer | null = Buffer.alloc(0);
    let expected: number | null = null;
    let bodyBytes = 0;
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`download of ${path} timed out after ${timeoutMs} ms`)));
    socket.once('error', fail);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    socket.on('data', (chunk: Buffer) => {
      if (head === null) {
        bodyBytes += chunk.length;
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf(HEAD_END);
      if (end === -1) return;
      const parsed = parseResponseHead(head.toString('latin1', 0, end));
      if (parsed.status !== 200 || parsed.contentLength === null) {
        fail(new Error(`download of ${path}: status ${parsed.status}, Content-Length ${parsed.contentLength}`));
        return;
      }
      expected = parsed.contentLength;
      bodyBytes = head.length - end - 4;
      head = null;
    });
    socket.once('end', () => {
      if (expected === null || bodyBytes !== expected) {
        fail(new Error(`download of ${path}: got ${bodyBytes} body bytes, expected ${expected}`));
        return;
      }
      resolve({ bodyBytes, ms: Number(process.hrtime.bigint() - started) / 1e6 });
    });
  });
}
