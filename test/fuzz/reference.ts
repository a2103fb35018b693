// The reference parser: llhttp, driven through a node:http server on loopback in
// its strict mode (insecureHTTPParser: false). For each probe it records the
// requests llhttp completed (method, target, body length) and the error code it
// stopped on, so its view of where each message ends can be compared with garcon's.

import * as http from 'node:http';
import * as net from 'node:net';

export interface ReferenceRequest {
  method: string;
  target: string;
  bodyLength: number;
  /** HTTP/1.1 request without Host: node:http answers 400 (requireHostHeader). */
  missingHost: boolean;
}

export interface ReferenceOutcome {
  /** Requests whose message llhttp completed, in order. */
  requests: ReferenceRequest[];
  /**
   * How parsing ended: 'clean' (nothing pending), 'incomplete' (the bytes ran out
   * mid-message), 'tunnel' (CONNECT/Upgrade: node:http hands the socket over), or
   * 'error' (llhttp refused the bytes; see `code`).
   */
  end: 'clean' | 'incomplete' | 'tunnel' | 'error';
  /** llhttp's error code (HPE_...), '' when none. */
  code: string;
  /** The reason llhttp gave. */
  reason: string;
}

interface ConnectionRecord {
  entries: { request: http.IncomingMessage; bodyLength: number; tunnel: boolean }[];
  code: string;
  reason: string;
  closed: Promise<void>;
}

export class ReferenceServer {
  readonly #server: http.Server;
  readonly #records = new Map<number, ConnectionRecord>();
  #port = 0;

  constructor(maxHeaderSize: number) {
    // requireHostHeader is applied by the comparison (missingHost), so the
    // parser's own verdict on the rest of the message stays visible.
    this.#server = http.createServer({ insecureHTTPParser: false, maxHeaderSize, requireHostHeader: false });
    this.#server.on('connection', (socket: net.Socket) => {
      let closed!: () => void;
      const record: ConnectionRecord = { entries: [], code: '', reason: '', closed: new Promise((r) => (closed = r)) };
      this.#records.set(socket.remotePort ?? 0, record);
      socket.on('close', () => closed());
    });
    const onRequest = (request: http.IncomingMessage, response: http.ServerResponse) => {
      const entry = { request, bodyLength: 0, tunnel: false };
      this.#recordFor(request.socket)?.entries.push(entry);
      request.on('data', (chunk: Buffer) => (entry.bodyLength += chunk.length));
      request.on('end', () => response.end('ok'));
    };
    this.#server.on('request', onRequest);
    // node:http answers an unknown Expect with 417 itself; the parse is what is compared.
    this.#server.on('checkExpectation', onRequest);
    const tunnel = (request: http.IncomingMessage, socket: net.Socket) => {
      this.#recordFor(socket)?.entries.push({ request, bodyLength: 0, tunnel: true });
      socket.destroy();
    };
    this.#server.on('connect', tunnel);
    this.#server.on('upgrade', tunnel);
    this.#server.on('clientError', (err: Error & { code?: string; reason?: string }, socket: net.Socket) => {
      const record = this.#recordFor(socket);
      if (record && record.code === '') {
        record.code = err.code ?? 'ERROR';
        record.reason = err.reason ?? err.message;
      }
      socket.destroy();
    });
  }

  #recordFor(socket: net.Socket): ConnectionRecord | undefined {
    return this.#records.get(socket.remotePort ?? 0);
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.#port = (this.#server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /** Send `bytes`, half-close, and wait (at most `deadlineMs`) for node:http to close the connection. */
  async probe(bytes: Buffer, deadlineMs: number): Promise<ReferenceOutcome | null> {
    const socket = net.connect(this.#port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const localPort = socket.localPort ?? 0;
    // The server sees the connection when it accepts it; wait for that record.
    let record = this.#records.get(localPort);
    for (let i = 0; record === undefined && i < 100; i++) {
      await new Promise((r) => setImmediate(r));
      record = this.#records.get(localPort);
    }
    if (record === undefined) {
      socket.destroy();
      return null;
    }
    socket.end(bytes);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      record.closed.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), deadlineMs))),
    ]);
    clearTimeout(timer);
    socket.destroy();
    this.#records.delete(localPort);
    if (timedOut) return null;
    return summarise(record);
  }
}

function summarise(record: ConnectionRecord): ReferenceOutcome {
  const requests: ReferenceRequest[] = [];
  for (const { request, bodyLength, tunnel } of record.entries) {
    if (tunnel) {
      return { requests, end: 'tunnel', code: record.code, reason: record.reason };
    }
    if (!request.complete) {
      const incomplete = record.code === '' || record.code === 'HPE_INVALID_EOF_STATE';
      return { requests, end: incomplete ? 'incomplete' : 'error', code: record.code, reason: record.reason };
    }
    requests.push({
      method: request.method ?? '',
      target: request.url ?? '',
      bodyLength,
      missingHost: request.httpVersion === '1.1' && request.headers.host === undefined,
    });
  }
  if (record.code === 'HPE_INVALID_EOF_STATE') return { requests, end: 'incomplete', code: record.code, reason: record.reason };
  return { requests, end: record.code === '' ? 'clean' : 'error', code: record.code, reason: record.reason };
}
