// Connection management: the connection limit, idle and slowloris timeouts,
// the threads gate, client disconnects, and graceful close().

import { expect } from 'chai';
import * as net from 'node:net';
import { app as echo } from '../../fixtures/echo.js';
import { bigDownload, sleepy } from '../../fixtures/streaming.js';
import type { App } from '../../src/types.js';
import { get, parseResponses, send, startServer } from '../helpers/http.js';

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('connections', () => {
  it('past connectionLimit the excess waits (held unread) and is served when a slot frees', async () => {
    const srv = await startServer(echo, { connectionLimit: 2 });
    try {
      const a = await connect(srv.port);
      const b = await connect(srv.port);
      await wait(50);
      const reached = 'total open connections reached the connection limit, no longer accepting new connections';
      const below = 'total open connections dropped below the connection limit, listening again';
      const c = await connect(srv.port);
      const cAnswer = new Promise<Buffer>((resolve) => c.once('data', resolve));
      await wait(100);
      expect(srv.logger.messages('warn')).to.deep.equal([reached]);
      // The waiting connection takes the slot a frees: still at the limit, nothing to announce.
      a.destroy();
      c.write(get('/third'));
      expect(parseResponses(await cAnswer).responses[0]!.status).to.equal(200);
      expect(srv.logger.messages('info')).to.not.include(below);
      // b leaves with nobody waiting: now there is room.
      b.destroy();
      await wait(100);
      expect(srv.logger.messages('info').filter((m) => m === below)).to.have.length(1);
      const d = await connect(srv.port);
      const e = await connect(srv.port);
      await wait(100);
      expect(srv.logger.messages('warn')).to.deep.equal([reached, reached]);
      for (const s of [c, d, e]) s.destroy();
    } finally {
      await srv.close();
    }
  });

  it('past connectionLimit, the kept-alive connection idle longest is closed to make room (a proxy\'s pool cannot starve others)', async () => {
    const srv = await startServer(echo, { connectionLimit: 2 });
    try {
      const request = async (socket: net.Socket, path: string) => {
        const answer = new Promise<Buffer>((resolve) => socket.once('data', resolve));
        socket.write(get(path));
        return parseResponses(await answer).responses[0]!;
      };
      const a = await connect(srv.port);
      const b = await connect(srv.port);
      expect((await request(a, '/a')).status).to.equal(200);
      await wait(20);
      expect((await request(b, '/b')).status).to.equal(200);
      const aEnded = new Promise((resolve) => a.once('end', resolve));
      const c = await connect(srv.port);
      const third = await request(c, '/c');
      expect(third.status).to.equal(200);
      await aEnded; // a, idle longest, got a FIN; b is still open
      expect(b.destroyed).to.equal(false);
      for (const s of [b, c]) s.destroy();
    } finally {
      await srv.close();
    }
  });

  it('past connectionLimit, a connection silent for 2 s since it opened gives its slot up before a kept-alive one', async () => {
    const srv = await startServer(echo, { connectionLimit: 2 });
    try {
      const silent = await connect(srv.port);
      const kept = await connect(srv.port);
      const answered = new Promise((resolve) => kept.once('data', resolve));
      kept.write(get('/kept'));
      await answered;
      await wait(2100);
      const third = await send(srv.port, get('/third', 'Connection: close\r\n'), { responses: 1, timeout: 3000 });
      expect(third.responses[0]!.status).to.equal(200);
      await closed(silent);
      expect(kept.destroyed).to.equal(false);
      kept.destroy();
    } finally {
      await srv.close();
    }
  });

  it('while connections wait for a slot, responses say Connection: close, so the slots turn over', async () => {
    const srv = await startServer(sleepy, { connectionLimit: 1 });
    try {
      const first = send(srv.port, get('/first?ms=300'), { responses: 1 });
      await wait(50);
      const second = send(srv.port, get('/second?ms=1'), { responses: 1 });
      const ex = await first;
      expect(ex.responses[0]!.headers.connection).to.equal('close');
      expect((await second).responses[0]!.body.toString()).to.equal('slept /second');
    } finally {
      await srv.close();
    }
  });

  it('closes a connection idle for channelTimeout, without a response', async () => {
    const srv = await startServer(echo, { channelTimeout: 0.3, cleanupInterval: 0.1 });
    try {
      const socket = await connect(srv.port);
      const data: Buffer[] = [];
      socket.on('data', (d) => data.push(d));
      const start = Date.now();
      await closed(socket);
      expect(Date.now() - start).to.be.within(250, 2000);
      expect(Buffer.concat(data).length).to.equal(0);
    } finally {
      await srv.close();
    }
  });

  it('checks a channelTimeout shorter than cleanupInterval at its own pace, not at the next sweep', async () => {
    const srv = await startServer(echo, { channelTimeout: 0.3, cleanupInterval: 30 });
    try {
      const socket = await connect(srv.port);
      const start = Date.now();
      await closed(socket);
      expect(Date.now() - start).to.be.within(250, 1500);
    } finally {
      await srv.close();
    }
  });

  it('cuts off a head that trickles in for longer than channelTimeout (slowloris)', async () => {
    const srv = await startServer(echo, { channelTimeout: 0.4, cleanupInterval: 0.1 });
    try {
      const socket = await connect(srv.port);
      socket.on('error', () => undefined);
      const head = `GET / HTTP/1.1\r\nHost: x\r\n${'X-Slow: y\r\n'.repeat(100)}`;
      let i = 0;
      const timer = setInterval(() => {
        if (!socket.destroyed) socket.write(head[i++ % head.length]!);
      }, 20);
      const start = Date.now();
      await closed(socket);
      clearInterval(timer);
      expect(Date.now() - start).to.be.within(300, 2500);
      const ok = await send(srv.port, get('/'), { responses: 1 });
      expect(ok.responses[0]!.status).to.equal(200);
    } finally {
      await srv.close();
    }
  });

  it('a running request is never timed out', async () => {
    const srv = await startServer(sleepy, { channelTimeout: 0.2, cleanupInterval: 0.05 });
    try {
      const ex = await send(srv.port, get('/x?ms=600'), { responses: 1 });
      expect(ex.responses[0]!.body.toString()).to.equal('slept /x');
    } finally {
      await srv.close();
    }
  });

  it('threads bounds the apps running at once; waiting requests queue and the depth is logged', async () => {
    let running = 0;
    let peak = 0;
    const app: App = async (_environ, startResponse) => {
      running++;
      peak = Math.max(peak, running);
      await wait(100);
      running--;
      startResponse('200 OK', [['Content-Length', '2']]);
      return [Buffer.from('ok')];
    };
    const srv = await startServer(app, { threads: 2 });
    try {
      const results = await Promise.all([1, 2, 3, 4, 5].map(() => send(srv.port, get('/'), { responses: 1 })));
      expect(results.every((r) => r.responses[0]!.status === 200)).to.equal(true);
      expect(peak).to.equal(2);
      expect(srv.logger.messages('warn').some((m) => /^Task queue depth is \d+$/.test(m))).to.equal(true);
    } finally {
      await srv.close();
    }
  });

  it('a slow async request does not block other connections', async () => {
    const srv = await startServer(sleepy);
    try {
      const order: string[] = [];
      await Promise.all([
        send(srv.port, get('/slow?ms=400'), { responses: 1 }).then(() => order.push('slow')),
        wait(50).then(() => send(srv.port, get('/fast?ms=1'), { responses: 1 })).then(() => order.push('fast')),
      ]);
      expect(order).to.deep.equal(['fast', 'slow']);
    } finally {
      await srv.close();
    }
  });

  it('garcon.client_disconnected turns true and a streaming app stops when the client goes', async () => {
    let sawDisconnect = false;
    let closedIterable = false;
    const app: App = (environ, startResponse) => {
      startResponse('200 OK', []);
      const gone = environ['garcon.client_disconnected'];
      const body = (async function* endless() {
        for (let i = 0; i < 10000; i++) {
          if (gone()) {
            sawDisconnect = true;
            return;
          }
          await wait(5);
          yield Buffer.alloc(1024, 'z');
        }
      })();
      return Object.assign(body, { close: () => { closedIterable = true; } });
    };
    const srv = await startServer(app);
    try {
      const socket = await connect(srv.port);
      socket.write(get('/'));
      await new Promise((resolve) => socket.once('data', resolve));
      socket.destroy();
      for (let i = 0; i < 100 && !closedIterable; i++) await wait(20);
      expect(closedIterable).to.equal(true);
      expect(sawDisconnect || srv.logger.messages('info').some((m) => m.startsWith('Client disconnected while serving /'))).to.equal(true);
    } finally {
      await srv.close();
    }
  });

  it('close() lets a request in flight finish (with Connection: close), closes idle keep-alive connections, refuses new ones', async () => {
    const srv = await startServer(sleepy);
    const idle = await connect(srv.port);
    const idleClosed = closed(idle);
    const inflight = send(srv.port, get('/inflight?ms=300'), { timeout: 3000 });
    await wait(100);
    const closing = srv.server.close();
    await idleClosed;
    const ex = await inflight;
    expect(ex.responses[0]!.body.toString()).to.equal('slept /inflight');
    expect(ex.responses[0]!.headers.connection).to.equal('close');
    await closing;
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      s.on('connect', () => resolve('connected'));
    });
    expect(refused).to.equal('ECONNREFUSED');
  });

  it('a client that stops reading a response is cut off after channelTimeout, freeing its task slot', async () => {
    const srv = await startServer(bigDownload, { threads: 1, channelTimeout: 0.5, cleanupInterval: 0.1, outbufHighWatermark: 65536 });
    const stalled = await connect(srv.port);
    try {
      stalled.pause(); // never reads: the server's socket buffer fills and the app waits on 'drain'
      stalled.write(get('/?size=104857600'));
      await wait(200);
      // With threads: 1 this request can only run once the stalled one has been cut off.
      const ok = await send(srv.port, get('/?size=10'), { responses: 1, timeout: 10000 });
      expect(ok.responses[0]!.body.length).to.equal(10);
      expect(srv.logger.messages('info').some((m) => m.startsWith('Client disconnected while serving'))).to.equal(true);
    } finally {
      stalled.destroy();
      await srv.close();
    }
  });

  /** Read `socket` at about `bytesPerSecond` (paused for the rest of each 50 ms once its share is in) until it closes. */
  function readSteadily(socket: net.Socket, bytesPerSecond: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let inThisStep = 0;
    socket.on('data', (chunk: Buffer) => {
      parts.push(chunk);
      inThisStep += chunk.length;
      if (inThisStep >= bytesPerSecond / 20) socket.pause();
    });
    const timer = setInterval(() => {
      inThisStep = 0;
      socket.resume();
    }, 50);
    return new Promise((resolve) => {
      socket.once('close', () => {
        clearInterval(timer);
        resolve(Buffer.concat(parts));
      });
    });
  }

  /** One body, written in one piece: more than the kernel's buffers on loopback hold, so it waits on the reader. */
  const oneBigBody: App = (environ, startResponse) => {
    const size = Number(new URLSearchParams(String(environ.QUERY_STRING)).get('size'));
    startResponse('200 OK', [['Content-Type', 'application/octet-stream'], ['Content-Length', String(size)]]);
    return [Buffer.alloc(size, 'x')];
  };

  it('a client reading a large response slowly but steadily is not cut off, however long past channelTimeout it takes', async () => {
    // 32 MB at 16 MB/s: about 2 s, four times channelTimeout, with the write waiting on the reader all along.
    const srv = await startServer(oneBigBody, { channelTimeout: 0.5, cleanupInterval: 0.1 });
    try {
      const socket = await connect(srv.port);
      socket.write(get('/?size=33554432', 'Connection: close\r\n'));
      const raw = await readSteadily(socket, 16 * 1024 * 1024);
      const [response] = parseResponses(raw).responses;
      expect(response!.body.length).to.equal(33554432);
      expect(srv.logger.messages('info').some((m) => m.startsWith('Client disconnected'))).to.equal(false);
    } finally {
      await srv.close();
    }
  });

  it('a closing response read slowly but steadily is not cut 2 s after the app ends: the linger starts once it is in the kernel', async () => {
    // Connection: close with a request pipelined behind it: closing leaves client bytes unread,
    // so the connection lingers (reads and drops them) before closing. 24 MiB at 8 MB/s takes
    // 3 s; the linger, started when the app was done, used to cut the response at 2 s.
    const srv = await startServer(oneBigBody, { channelTimeout: 30 });
    try {
      const socket = await connect(srv.port);
      socket.write(get('/?size=25165824', 'Connection: close\r\n') + get('/never'));
      const [response, second] = parseResponses(await readSteadily(socket, 8 * 1024 * 1024)).responses;
      expect(response!.body.length).to.equal(25165824);
      expect(second).to.equal(undefined);
    } finally {
      await srv.close();
    }
  });

  it('a client that trickles bytes in but never reads its response is still cut off, freeing its task slot', async () => {
    const srv = await startServer(bigDownload, { threads: 1, channelTimeout: 0.5, cleanupInterval: 0.1, outbufHighWatermark: 65536 });
    const stalled = await connect(srv.port);
    const trickle = setInterval(() => stalled.write('x'), 150);
    try {
      stalled.pause();
      stalled.write(get('/?size=104857600'));
      await wait(200);
      // Reads are no progress on the output: with threads 1, this runs only once the stalled one is cut.
      const ok = await send(srv.port, get('/?size=10'), { responses: 1, timeout: 10000 });
      expect(ok.responses[0]!.body.length).to.equal(10);
    } finally {
      clearInterval(trickle);
      stalled.destroy();
      await srv.close();
    }
  });

  it('a pipelined upload held back by the server while a slow reader downloads is timed only once the download is out', async () => {
    const srv = await startServer(async (environ, startResponse) => {
      if (environ.REQUEST_METHOD === 'GET') return oneBigBody(environ, startResponse);
      return echo(environ, startResponse);
    }, { channelTimeout: 0.5, cleanupInterval: 0.1 });
    try {
      const socket = await connect(srv.port);
      socket.write(`${get('/?size=33554432')}POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n`);
      // The body trickles in at 200 B/s while the download lasts (about 2 s): under the 1 KiB/s
      // a body must average, but the server is not reading it anyway until the output is out.
      let sent = 0;
      const trickle = setInterval(() => {
        if (sent < 400) {
          socket.write('a'.repeat(20));
          sent += 20;
        }
      }, 100);
      const download = readSteadily(socket, 16 * 1024 * 1024);
      await new Promise((resolve) => setTimeout(resolve, 1900));
      clearInterval(trickle);
      socket.write('a'.repeat(1000 - sent));
      const responses = parseResponses(await download).responses;
      expect(responses.map((r) => r.status)).to.deep.equal([200, 200]);
      expect(responses[0]!.body.length).to.equal(33554432);
    } finally {
      await srv.close();
    }
  });

  it('close() answers a request sent on an idle keep-alive connection just after it began (Connection: close), not a reset', async () => {
    const srv = await startServer(echo);
    const pooled = await connect(srv.port);
    let answer = '';
    pooled.on('data', (data: Buffer) => (answer += data.toString('latin1')));
    pooled.write(get('/first'));
    await wait(50);
    const closing = srv.server.close();
    // A proxy picks this connection from its pool as the server starts to stop; the head
    // comes in two reads (a long one does, over a real network).
    pooled.write('POST /second HTTP/1.1\r\nHost: x\r\n');
    await wait(20);
    pooled.write('Content-Length: 2\r\n\r\nok');
    await closing;
    await closed(pooled);
    const [first, second] = parseResponses(Buffer.from(answer, 'latin1')).responses;
    expect(first!.status).to.equal(200);
    expect(second!.status).to.equal(200);
    expect(second!.headers.connection).to.equal('close');
    expect(JSON.parse(second!.body.toString()).PATH_INFO).to.equal('/second');
  });

  it('close() lets an upload whose head is in finish arriving, answers it with Connection: close, then resolves', async () => {
    const srv = await startServer(echo, { shutdownTimeout: 30 });
    const upload = await connect(srv.port);
    let answer = '';
    upload.on('data', (data: Buffer) => (answer += data.toString('latin1')));
    upload.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234`);
    await wait(50);
    const closing = srv.server.close();
    await wait(100);
    upload.write('56789');
    await closing;
    await closed(upload);
    const res = parseResponses(Buffer.from(answer, 'latin1')).responses[0]!;
    expect(res.status).to.equal(200);
    expect(res.headers.connection).to.equal('close');
    expect(JSON.parse(res.body.toString()).CONTENT_LENGTH).to.equal('10');
  });

  it('close() waits no longer than its grace for a request head that is still arriving', async () => {
    const srv = await startServer(echo, { shutdownTimeout: 30 });
    const partial = await connect(srv.port);
    partial.write('GET / HTTP/1.1\r\nHost: x\r\nX-Half: ');
    await wait(50);
    const start = Date.now();
    await srv.server.close();
    expect(Date.now() - start).to.be.below(3000); // the 1 s grace, not shutdownTimeout
    await closed(partial);
  });

  it('connections reset right after accept are released and the server keeps answering (CVE-2024-49769)', async () => {
    const srv = await startServer(echo);
    try {
      for (let i = 0; i < 200; i++) {
        const s = net.connect(srv.port, '127.0.0.1');
        s.on('error', () => undefined);
        s.on('connect', () => {
          if (i % 2) s.write('GET / HT');
          s.resetAndDestroy();
        });
      }
      await wait(300);
      const ex = await send(srv.port, get('/'), { responses: 1 });
      expect(ex.responses[0]!.status).to.equal(200);
    } finally {
      await srv.close();
    }
  });

  it('stops reading a pipelining client that does not read its responses (back-pressure)', async () => {
    const big: App = (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Length', String(1 << 20)]]);
      return [Buffer.alloc(1 << 20, 'b')];
    };
    const srv = await startServer(big, { outbufHighWatermark: 1 << 20 });
    try {
      const socket = await connect(srv.port);
      socket.pause();
      let wrote = 0;
      // Keep writing requests without reading: the server must stop consuming them.
      for (let i = 0; i < 400; i++) {
        if (!socket.write(get('/'))) break;
        wrote++;
      }
      await wait(300);
      const received: Buffer[] = [];
      socket.on('data', (d) => received.push(d));
      socket.resume();
      socket.end();
      await closed(socket);
      const { responses } = parseResponses(Buffer.concat(received));
      expect(responses.length).to.equal(wrote);
    } finally {
      await srv.close();
    }
  });
});
