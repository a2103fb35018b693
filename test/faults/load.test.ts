// Load and broken clients: 2,000 connections at once against connectionLimit,
// clients that reset mid-request and mid-response (CVE-2022-31015,
// CVE-2024-49769), and a client that never reads a large response.

import { expect } from 'chai';
import * as net from 'node:net';
import { app as echo } from '../../fixtures/echo.js';
import type { App } from '../../src/types.js';
import { get, parseResponses, send, startServer } from '../helpers/http.js';

interface ClientResult {
  status: number | null;
  /** The server closed without sending a byte (refused past backlog). */
  refused: boolean;
}

/** Connect, wait `holdMs` (so connections pile up), send one GET, and report its status or that the server refused/closed. */
function oneRequest(port: number, holdMs: number, deadlineMs: number): Promise<ClientResult> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const finish = (result: ClientResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ status: null, refused: false }), deadlineMs);
    socket.on('error', () => undefined);
    socket.on('connect', () => setTimeout(() => socket.writable && socket.write(get('/', 'Connection: close\r\n')), holdMs));
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      const { responses } = parseResponses(Buffer.concat(chunks));
      if (responses.length > 0) finish({ status: responses[0]!.status, refused: false });
    });
    socket.on('close', () => finish({ status: null, refused: chunks.length === 0 }));
  });
}

describe('faults: load and broken clients', () => {
  it('2,000 connections at once against connectionLimit 50 and backlog 500: served or refused, never hung', async () => {
    const srv = await startServer(echo, { connectionLimit: 50, backlog: 500 });
    try {
      const results = await Promise.all(Array.from({ length: 2000 }, () => oneRequest(srv.port, 500, 15000)));
      const served = results.filter((r) => r.status === 200).length;
      const refused = results.filter((r) => r.refused).length;
      expect(results.filter((r) => r.status !== 200 && !r.refused), 'hung or odd answers').to.deep.equal([]);
      expect(served + refused).to.equal(2000);
      expect(served).to.be.at.least(550); // the limit plus every parked connection
      expect(srv.logger.messages('warn')).to.include('total open connections reached the connection limit, no longer accepting new connections');
      expect(srv.logger.messages('error')).to.deep.equal([]);
      const after = await send(srv.port, get('/after'), { responses: 1 });
      expect(after.responses[0]?.status).to.equal(200);
    } finally {
      await srv.close();
    }
  });

  it('clients resetting mid-request and mid-response, 200 at a time: the server keeps serving and logs no error', async () => {
    const big = Buffer.alloc(1 << 20, 0x61);
    const app: App = (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Length', String(big.length * 8)]]);
      return Array<Buffer>(8).fill(big);
    };
    const srv = await startServer(app);
    try {
      const resets = Array.from({ length: 200 }, (_, i) => new Promise<void>((resolve) => {
        const socket = net.connect(srv.port, '127.0.0.1');
        socket.on('error', () => undefined);
        socket.on('close', () => resolve());
        socket.on('connect', () => {
          if (i % 3 === 0) socket.resetAndDestroy(); // before any byte (CVE-2024-49769)
          else if (i % 3 === 1) socket.write('GET / HTTP/1.1\r\nHost: x\r\nX-Part', () => socket.resetAndDestroy());
          else socket.write(get('/big'));
        });
        // Mid-response: reset as soon as the first response bytes arrive.
        socket.once('data', () => socket.resetAndDestroy());
      }));
      await Promise.all(resets);
      const after = await send(srv.port, get('/after'), { responses: 1, timeout: 10000 });
      expect(after.responses[0]?.status).to.equal(200);
      expect(after.responses[0]?.body.length).to.equal(big.length * 8);
      expect(srv.logger.messages('error')).to.deep.equal([]);
    } finally {
      await srv.close();
    }
  });

  it('a client that never reads a 256 MiB response: the app is paused near outbufHighWatermark', async () => {
    const block = Buffer.alloc(64 * 1024, 0x62);
    const total = 4096; // blocks: 256 MiB
    let produced = 0;
    const app: App = (environ, startResponse) => {
      if (environ.PATH_INFO !== '/huge') return echo(environ, startResponse);
      startResponse('200 OK', [['Content-Length', String(block.length * total)]]);
      return (function* () {
        for (let i = 0; i < total; i++) {
          produced += block.length;
          yield block;
        }
      })();
    };
    const watermark = 1 << 20;
    const srv = await startServer(app, { outbufHighWatermark: watermark });
    const socket = net.connect(srv.port, '127.0.0.1');
    socket.on('error', () => undefined);
    try {
      await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
      socket.pause(); // never read
      socket.write(get('/huge'));
      await new Promise((r) => setTimeout(r, 1500));
      // What the app produced is what sits in garcon's buffer plus the kernel's socket buffers.
      expect(produced).to.be.below(watermark + 32 * 2 ** 20);
      const other = await send(srv.port, get('/other', '', '1.0'), { responses: 1, timeout: 5000 });
      expect(other.responses[0]?.status).to.equal(200);
    } finally {
      socket.destroy();
      await srv.close();
    }
  });
});
