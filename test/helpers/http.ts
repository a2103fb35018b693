// Test helpers: start a server on an ephemeral port with a recording logger, and
// talk raw bytes to it, parsing the responses that come back.

import * as net from 'node:net';
import { createServer, type GarconServer } from '../../src/server.js';
import type { App, Logger } from '../../src/types.js';

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  args: unknown[];
}

/** A logger that remembers everything (and prints nothing). */
export function recordingLogger(): Logger & { records: LogRecord[]; messages(level?: LogRecord['level']): string[] } {
  const records: LogRecord[] = [];
  const at = (level: LogRecord['level']) => (...args: unknown[]) => {
    records.push({ level, message: String(args[0]), args });
  };
  return {
    records,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    messages: (level) => records.filter((r) => !level || r.level === level).map((r) => r.message),
  };
}

export interface Running {
  server: GarconServer;
  port: number;
  logger: ReturnType<typeof recordingLogger>;
  close(): Promise<void>;
}

export async function startServer(app: App, options: Record<string, unknown> = {}): Promise<Running> {
  const logger = recordingLogger();
  const server = createServer(app, { listen: '127.0.0.1:0', logger, ...options });
  await server.listen();
  const address = server.addresses[0];
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, port, logger, close: () => server.close() };
}

export interface ParsedResponse {
  version: string;
  status: number;
  reason: string;
  statusLine: string;
  /** Header pairs in wire order. */
  rawHeaders: [string, string][];
  /** Lower-cased names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface Exchange {
  raw: Buffer;
  responses: ParsedResponse[];
  /** The server closed the connection. */
  closed: boolean;
}

export interface SendOptions {
  /** Stop once this many complete responses have arrived (the socket is then closed by us). */
  responses?: number;
  /** Give up after this many ms (default 5000); what arrived is returned. */
  timeout?: number;
  /** Methods of the requests sent, in order, so HEAD responses are parsed without a body. */
  methods?: string[];
  /** Delay between the pieces when `data` is an array. */
  pieceDelay?: number;
  /** Half-close (FIN) after sending. */
  end?: boolean;
  host?: string;
  path?: string;
}

/** Send raw bytes (a Buffer, a string as latin-1, or pieces written one by one) and collect responses. */
export function send(port: number, data: string | Buffer | (string | Buffer)[], options: SendOptions = {}): Promise<Exchange> {
  const pieces = (Array.isArray(data) ? data : [data]).map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p));
  return new Promise((resolve, reject) => {
    const socket = options.path ? net.connect(options.path) : net.connect(port, options.host ?? '127.0.0.1');
    const chunks: Buffer[] = [];
    let finished = false;
    let closed = false;
    const finish = (err?: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      socket.destroy();
      if (err !== undefined) {
        reject(err);
        return;
      }
      try {
        resolve({ raw, responses: parseResponses(raw, options.methods).responses, closed });
      } catch (parseError) {
        reject(parseError);
      }
    };
    const timer = setTimeout(finish, options.timeout ?? 5000);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (options.responses !== undefined) {
        try {
          const { responses } = parseResponses(Buffer.concat(chunks), options.methods);
          if (responses.length >= options.responses) finish();
        } catch (err) {
          finish(err);
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on('connect', async () => {
      for (let i = 0; i < pieces.length; i++) {
        if (i > 0 && options.pieceDelay) await new Promise((r) => setTimeout(r, options.pieceDelay));
        if (socket.destroyed) return;
        socket.write(pieces[i]!);
      }
      if (options.end) socket.end();
    });
  });
}

/**
 * Parse as many complete responses as `raw` holds. A body without Content-Length
 * or chunked framing runs to the end of `raw` (close-delimited).
 */
export function parseResponses(raw: Buffer, methods: string[] = []): { responses: ParsedResponse[]; rest: Buffer } {
  const responses: ParsedResponse[] = [];
  let offset = 0;
  for (;;) {
    const end = raw.indexOf('\r\n\r\n', offset, 'latin1');
    if (end === -1) break;
    const lines = raw.toString('latin1', offset, end).split('\r\n');
    const statusLine = lines[0]!;
    const m = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(statusLine);
    if (!m) break;
    const rawHeaders: [string, string][] = [];
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon);
      const value = line.slice(colon + 1).trim();
      rawHeaders.push([name, value]);
      const key = name.toLowerCase();
      headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
    }
    const status = Number(m[2]);
    let position = end + 4;
    let body: Buffer;
    const isHead = (methods[responses.length - (responses.filter((r) => r.status < 200).length)] ?? '').toUpperCase() === 'HEAD';
    if (status < 200 || status === 204 || status === 304 || isHead) {
      body = Buffer.alloc(0);
    } else if ((headers['transfer-encoding'] ?? '').toLowerCase() === 'chunked') {
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const lineEnd = raw.indexOf('\r\n', position, 'latin1');
        if (lineEnd === -1) break;
        const size = parseInt(raw.toString('latin1', position, lineEnd), 16);
        if (Number.isNaN(size)) break;
        if (size === 0) {
          if (raw.length < lineEnd + 4) break;
          position = lineEnd + 4;
          complete = true;
          break;
        }
        if (raw.length < lineEnd + 2 + size + 2) break;
        parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
        position = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      // A test must fail on a bad length, never loop on it.
      if (!/^\d+$/.test(headers['content-length'])) throw new Error(`response with Content-Length "${headers['content-length']}"`);
      const length = Number(headers['content-length']);
      if (raw.length < position + length) break;
      body = raw.subarray(position, position + length);
      position += length;
    } else {
      body = raw.subarray(position);
      position = raw.length;
    }
    responses.push({ version: m[1]!, status, reason: m[3]!, statusLine, rawHeaders, headers, body });
    offset = position;
  }
  return { responses, rest: raw.subarray(offset) };
}

/** A plain GET request. */
export function get(path = '/', extra = '', version = '1.1'): string {
  return `GET ${path} HTTP/${version}\r\nHost: localhost\r\n${extra}\r\n`;
}
