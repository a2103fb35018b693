// Slow clients: a head or a body trickled one byte at a time must be cut off
// once it has taken channelTimeout (section 10 row 29, contract decision 12),
// while other clients keep being served.

import { expect } from 'chai';
import * as net from 'node:net';
import { app as echo } from '../../fixtures/echo.js';
import type { App, AppIterable } from '../../src/types.js';
import { get, send, startServer, type Running } from '../helpers/http.js';

const CHANNEL_TIMEOUT_S = 1;
const SWEEP_S = 0.2;
const TRICKLE_MS = 150;

/** Write `bytes` one byte every TRICKLE_MS, resolve with the ms until the server closed (or null at `giveUpMs`). */
function trickle(port: number, prefix: string, bytes: string, giveUpMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const started = Date.now();
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (result: number | null) => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve(result);
    };
    const giveUp = setTimeout(() => finish(null), giveUpMs);
    socket.on('error', () => undefined);
    socket.on('close', () => finish(Date.now() - started));
    socket.on('connect', () => {
      socket.write(prefix, 'latin1');
      if (bytes.length === 0) return;
      timer = setInterval(() => {
        if (!socket.destroyed) socket.write(bytes[i++ % bytes.length]!, 'latin1');
      }, TRICKLE_MS);
    });
  });
}

describe('faults: slowloris', () => {
  let srv: Running;
  before(async () => {
    srv = await startServer(echo, { channelTimeout: CHANNEL_TIMEOUT_S, cleanupInterval: SWEEP_S });
  });
  after(() => srv.close());

  it('a head trickled byte by byte is cut off at channelTimeout while others are served', async () => {
    const slow = trickle(srv.port, 'GET / HTTP/1.1\r\n', 'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n', 5000);
    await new Promise((r) => setTimeout(r, 300));
    const ok = await send(srv.port, get('/meanwhile'), { responses: 1 });
    expect(ok.responses[0]?.status).to.equal(200);
    const closedAfter = await slow;
    expect(closedAfter, 'the slow head was never cut off').to.not.equal(null);
    expect(closedAfter!).to.be.within(CHANNEL_TIMEOUT_S * 1000, (CHANNEL_TIMEOUT_S + 2 * SWEEP_S) * 1000 + 500);
  });

  it('a silent connection is closed after channelTimeout', async () => {
    const closedAfter = await trickle(srv.port, '', '', 5000).catch(() => null);
    expect(closedAfter).to.not.equal(null);
    expect(closedAfter!).to.be.within(CHANNEL_TIMEOUT_S * 1000, (CHANNEL_TIMEOUT_S + 2 * SWEEP_S) * 1000 + 500);
  });

  // Once the head is complete the idle rule alone would never fire for a byte every
  // 150 ms: a body that has been arriving for channelTimeout must average MIN_BODY_RATE.
  it('a body trickled byte by byte is cut off at channelTimeout', async () => {
    const head = `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n`;
    const closedAfter = await trickle(srv.port, head, 'b', (CHANNEL_TIMEOUT_S + 3) * 1000);
    expect(closedAfter, 'the slow body was still open after channelTimeout + 3 s').to.not.equal(null);
    expect(closedAfter!).to.be.within(CHANNEL_TIMEOUT_S * 1000, (CHANNEL_TIMEOUT_S + 2 * SWEEP_S) * 1000 + 500);
  });

  // The rest of a pipelined head or body could not be read while the server paused
  // reading behind a slow response: it is timed from when that response is done.
  it('a head or body pipelined behind a response slower than channelTimeout is not cut off', async () => {
    const slowMs = CHANNEL_TIMEOUT_S * 1000 * 2.5;
    const app: App = (environ, startResponse) => {
      const answer = (): AppIterable => {
        const body = Buffer.from(`${String(environ.PATH_INFO)}:${environ['wsgi.input'].read().toString()}`);
        startResponse('200 OK', [['Content-Length', String(body.length)]]);
        return [body];
      };
      if (environ.PATH_INFO !== '/slow') return answer();
      return new Promise((resolve) => setTimeout(() => resolve(answer()), slowMs));
    };
    const slow = await startServer(app, { channelTimeout: CHANNEL_TIMEOUT_S, cleanupInterval: SWEEP_S });
    try {
      const [headEx, bodyEx] = await Promise.all([
        send(slow.port, [get('/slow') + 'GET /next HTTP/1.1\r\nHo', 'st: x\r\n\r\n'], { responses: 2, pieceDelay: 100, timeout: slowMs + 3000 }),
        send(slow.port, [get('/slow') + 'POST /next HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nab', 'cdef'],
          { responses: 2, pieceDelay: 100, timeout: slowMs + 3000 }),
      ]);
      expect(headEx.responses.map((r) => r.body.toString())).to.deep.equal(['/slow:', '/next:']);
      expect(bodyEx.responses.map((r) => r.body.toString())).to.deep.equal(['/slow:', '/next:abcdef']);
    } finally {
      await slow.close();
    }
  });
});
