// Load and broken clients: 2,000 connections at once against connectionLimit,
// clients that reset mid-request and mid-response (CVE-2022-31015,
// CVE-2024-49769), and a client that never reads a large response.

import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
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

/**
 * Serve `app` with a 1 MiB outbufHighWatermark to a client that sends `requests`
 * and never reads; 1.5 s later, the bytes the app produced (`produced()`) must fit
 * in that watermark plus the kernel's socket buffers, and another client is served.
 */
async function againstNonReader(app: App, requests: string, produced: () => number): Promise<void> {
  const watermark = 1 << 20;
  const srv = await startServer(app, { outbufHighWatermark: watermark });
  const socket = net.connect(srv.port, '127.0.0.1');
  socket.on('error', () => undefined);
  try {
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    socket.pause(); // never read
    socket.write(requests);
    await new Promise((r) => setTimeout(r, 1500));
    expect(produced()).to.be.below(watermark + 32 * 2 ** 20);
    const other = await send(srv.port, get('/other', '', '1.0'), { responses: 1, timeout: 5000 });
    expect(other.responses[0]?.status).to.equal(200);
  } finally {
    socket.destroy();
    await srv.close();
  }
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

  it('clients resetting endless sync and async streams: each generator is stopped, the server keeps serving', async function () {
    this.timeout(30000);
    // The server runs in a child process: stuck writing into a reset socket, it would freeze this one.
    const child = spawn(process.execPath, [path.join(__dirname, 'stream-server.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        readline.createInterface({ input: child.stdout! }).once('line', (line) => resolve(Number(line.split(' ')[1])));
        child.once('exit', (code) => reject(new Error(`stream server exited with ${code}`)));
      });
      const stoppedCount = async () => {
        const ex = await send(port, get('/stopped'), { responses: 1, timeout: 3000 });
        expect(ex.responses, 'the server no longer answers').to.have.length(1);
        return Number(ex.responses[0]!.body.toString());
      };
      let expected = 0;
      for (const route of ['/sync', '/async', '/sync', '/async', '/sync', '/async']) {
        await new Promise<void>((resolve) => {
          const socket = net.connect(port, '127.0.0.1', () => socket.write(get(route)));
          let received = 0;
          socket.on('error', () => undefined);
          socket.on('close', () => resolve());
          socket.on('data', (chunk) => {
            received += chunk.length;
            if (received > 256 * 1024) socket.resetAndDestroy();
          });
        });
        expected++;
        let stopped = await stoppedCount();
        for (let i = 0; i < 20 && stopped < expected; i++) {
          await new Promise((r) => setTimeout(r, 50));
          stopped = await stoppedCount();
        }
        expect(stopped, `the ${route} generator was not stopped`).to.equal(expected);
      }
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a client pipelining requests for Array responses and reading none: dispatch waits near outbufHighWatermark', async () => {
    const body = Buffer.alloc(256 * 1024, 0x63);
    let calls = 0;
    const app: App = (environ, startResponse) => {
      if (environ.PATH_INFO !== '/array') return echo(environ, startResponse);
      calls++;
      startResponse('200 OK', [['Content-Length', String(body.length)]]);
      return [body];
    };
    // What was answered fits in garcon's buffer (the watermark) plus the kernel's socket buffers.
    await againstNonReader(app, get('/array').repeat(2000), () => calls * body.length);
  });

  it('an outbufHighWatermark below the socket\'s own 16 KiB mark: a slow reader still gets the whole stream', async () => {
    const chunk = Buffer.alloc(4096, 0x64);
    const chunks = 2048; // 8 MiB, far past the kernel's buffers
    const app: App = (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Length', String(chunk.length * chunks)]]);
      return (function* () {
        for (let i = 0; i < chunks; i++) yield chunk;
      })();
    };
    const srv = await startServer(app, { outbufHighWatermark: 1000, channelTimeout: 30 });
    try {
      const received = await new Promise<number>((resolve) => {
        const socket = net.connect(srv.port, '127.0.0.1', () => socket.write(get('/', 'Connection: close\r\n')));
        let bytes = 0;
        const timer = setTimeout(() => socket.destroy(), 10000);
        socket.on('error', () => undefined);
        // Read in bursts, so the server's writes back up now and then.
        socket.on('data', (data) => {
          bytes += data.length;
          socket.pause();
          setTimeout(() => socket.resume(), 1);
        });
        socket.on('close', () => {
          clearTimeout(timer);
          resolve(bytes);
        });
      });
      // The head plus every body byte: the wait for 'drain' that never comes would stall it.
      expect(received).to.be.above(chunk.length * chunks);
    } finally {
      await srv.close();
    }
  });

  it('requests waiting for a task slot are dropped, temp files and all, as soon as their clients leave', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const app: App = (environ, startResponse) => {
      if (environ.PATH_INFO !== '/hold') return echo(environ, startResponse);
      return held.then(() => {
        startResponse('200 OK', [['Content-Length', '0']]);
        return [];
      });
    };
    const srv = await startServer(app, { threads: 1, inbufOverflow: 1024 });
    const openFds = () => fs.readdirSync('/proc/self/fd').length;
    try {
      const holder = send(srv.port, get('/hold'), { responses: 1, timeout: 20000 });
      await new Promise((r) => setTimeout(r, 100));
      const before = openFds();
      // Each body spills to a temp file (inbufOverflow 1 KiB); each client resets before its turn.
      await Promise.all(Array.from({ length: 50 }, () => new Promise<void>((resolve) => {
        const socket = net.connect(srv.port, '127.0.0.1', () => {
          socket.write(`POST /queued HTTP/1.1\r\nHost: x\r\nContent-Length: 10240\r\n\r\n${'x'.repeat(10240)}`, () => {
            setTimeout(() => socket.resetAndDestroy(), 50);
          });
        });
        socket.on('error', () => undefined);
        socket.on('close', () => resolve());
      })));
      await new Promise((r) => setTimeout(r, 200));
      expect(openFds()).to.be.below(before + 5); // 50 temp files held until the slot freed, before
      release();
      expect((await holder).responses[0]?.status).to.equal(200);
    } finally {
      release();
      await srv.close();
    }
  });

  it('a body that cannot be stored (no temp file) is a 503 for that request, not the end of the process', async () => {
    const saved = process.env.TMPDIR;
    const srv = await startServer(echo, { inbufOverflow: 1024 });
    try {
      process.env.TMPDIR = path.join(os.tmpdir(), 'garcon-no-such-dir', 'x');
      const upload = `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n${'y'.repeat(4096)}`;
      const ex = await send(srv.port, upload);
      expect(ex.responses[0]?.status).to.equal(503);
      expect(ex.responses[0]?.body.toString()).to.contain('could not be stored').and.not.contain('garcon-no-such-dir');
      expect(srv.logger.messages('error').some((m) => m.startsWith('Cannot serve /: The request body could not be stored'))).to.equal(true);
      // Any client can cause these: twenty more are answered, and not logged one by one.
      const more = await Promise.all(Array.from({ length: 20 }, () => send(srv.port, upload)));
      expect(more.map((e) => e.responses[0]?.status)).to.deep.equal(Array(20).fill(503));
      expect(srv.logger.messages('error').filter((m) => m.startsWith('Cannot serve'))).to.have.length(1);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    try {
      expect((await send(srv.port, get('/after'), { responses: 1 })).responses[0]?.status).to.equal(200);
    } finally {
      await srv.close();
    }
  });

  it('parked connections that close without a byte (health checks) never hold a slot once admitted', async () => {
    const srv = await startServer(echo, { connectionLimit: 2, channelTimeout: 30 });
    const holders = [net.connect(srv.port, '127.0.0.1'), net.connect(srv.port, '127.0.0.1')];
    try {
      for (const holder of holders) holder.on('error', () => undefined);
      await new Promise((r) => setTimeout(r, 100));
      // Port scans while the server is full: they connect, and close at once.
      await Promise.all(Array.from({ length: 20 }, () => new Promise<void>((resolve) => {
        const probe = net.connect(srv.port, '127.0.0.1', () => probe.end());
        probe.on('error', () => undefined);
        probe.on('close', () => resolve());
      })));
      await new Promise((r) => setTimeout(r, 100));
      for (const holder of holders) holder.destroy();
      // Served at once, not after channelTimeout (30 s) has swept the dead ones out.
      const ok = await send(srv.port, get('/live'), { responses: 1, timeout: 3000 });
      expect(ok.responses[0]?.status).to.equal(200);
    } finally {
      for (const holder of holders) holder.destroy();
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
    // What the app produced is what sits in garcon's buffer plus the kernel's socket buffers.
    await againstNonReader(app, get('/huge'), () => produced);
  });
});
