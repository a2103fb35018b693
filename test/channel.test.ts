// When a channel's answers are written (channel.ts, turnQueue): driven with fake
// sockets, so that "in the same event-loop turn" is exact, not likely.

import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import sinon from 'sinon';
import { Channel } from '../src/channel.js';
import { createServer, type GarconServer } from '../src/server.js';
import type { App } from '../src/types.js';
import { get, parseResponses, recordingLogger } from './helpers/http.js';

/** Just what a Channel uses of a net.Socket; records what is written. */
class FakeSocket extends EventEmitter {
  readonly written: Buffer[] = [];
  remoteAddress = '127.0.0.1';
  remotePort = 40000;
  writableLength = 0;
  writableNeedDrain = false;
  writableEnded = false;
  readableLength = 0;
  errored: Error | null = null;
  destroyed = false;
  closed = false;
  #paused = false;

  write(data: string | Uint8Array, encoding?: unknown): boolean {
    this.written.push(typeof data === 'string' ? Buffer.from(data, encoding === 'latin1' ? 'latin1' : 'utf8') : Buffer.from(data));
    return true;
  }
  cork(): void {}
  uncork(): void {}
  isPaused(): boolean {
    return this.#paused;
  }
  pause(): this {
    this.#paused = true;
    return this;
  }
  resume(): this {
    this.#paused = false;
    return this;
  }
  end(): this {
    this.writableEnded = true;
    return this;
  }
  destroy(): this {
    this.closed = true;
    this.emit('close');
    return this;
  }
  bodies(): string[] {
    return parseResponses(Buffer.concat(this.written)).responses.map((r) => r.body.toString('latin1'));
  }
}

const pathApp: App = (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [Buffer.from(String(environ.PATH_INFO))];
};

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('channel: when answers are written', () => {
  let server: GarconServer;
  const listener = { unix: false, serverPort: '8080' };

  beforeEach(() => {
    server = createServer(pathApp, { listen: '127.0.0.1:0', logger: recordingLogger() });
  });

  function open(): FakeSocket {
    const socket = new FakeSocket();
    new Channel(socket as unknown as net.Socket, listener, server);
    return socket;
  }

  /** One read on `socket` carrying `requests`. */
  function receive(socket: FakeSocket, requests: string): void {
    socket.emit('data', Buffer.from(requests, 'latin1'));
  }

  /** In a fresh turn, a connection that answers first (so that later answers of the turn are queued). */
  async function firstOfTurn(): Promise<FakeSocket> {
    await nextTurn();
    const first = open();
    receive(first, get('/a'));
    return first;
  }

  it('writes the first answer of a turn at once, and later ones of that turn together at its end', async () => {
    let sockets: FakeSocket[];
    for (let attempt = 1; ; attempt++) {
      await nextTurn();
      sockets = [open(), open(), open()];
      sockets.forEach((socket, i) => receive(socket, get(`/c${i}`)));
      // A connection of another test still closing may have answered first in this turn: try a fresh one.
      if (sockets[0]!.written.length === 1 || attempt === 5) break;
      await nextTurn();
    }
    expect(sockets.map((s) => s.written.length)).to.deep.equal([1, 0, 0]);
    expect(sockets[0]!.bodies()).to.deep.equal(['/c0']);
    await nextTurn();
    expect(sockets.map((s) => s.written.length)).to.deep.equal([1, 1, 1]);
    expect(sockets.map((s) => s.bodies())).to.deep.equal([['/c0'], ['/c1'], ['/c2']]);
    // The next turn starts afresh: its first answer is again written at once.
    receive(sockets[2]!, get('/again'));
    expect(sockets[2]!.bodies()).to.deep.equal(['/c2', '/again']);
  });

  it('keeps one write per read for a queued channel, and its answers in request order', async () => {
    await firstOfTurn();
    const queued = open();
    receive(queued, get('/1') + get('/2'));
    receive(queued, get('/3'));
    expect(queued.written).to.have.length(0);
    await nextTurn();
    expect(queued.written).to.have.length(1);
    expect(queued.bodies()).to.deep.equal(['/1', '/2', '/3']);
  });

  it('sends a queued answer before closing when the connection closes within the turn', async () => {
    await firstOfTurn();
    const closing = open();
    receive(closing, get('/last', 'Connection: close\r\n'));
    // Connection: close ends the channel at once: what it answered is flushed first.
    expect(closing.bodies()).to.deep.equal(['/last']);
    expect(closing.closed).to.equal(true);
    await nextTurn();
    expect(closing.written).to.have.length(1);
  });

  it('a socket whose write failed counts as gone at once, before its close event: clientDisconnected, no more writes', () => {
    const socket = new FakeSocket();
    const channel = new Channel(socket as unknown as net.Socket, listener, server);
    const gone = channel.clientDisconnected;
    expect([gone(), channel.connected]).to.deep.equal([false, true]);
    // What a failed write (EPIPE, ECONNRESET) leaves behind until the next tick destroys the socket.
    socket.errored = new Error('write EPIPE');
    expect([gone(), channel.connected]).to.deep.equal([true, false]);
    const before = socket.written.length;
    channel.write('HTTP/1.1 200 OK\r\n\r\n');
    channel.flush();
    expect(socket.written).to.have.length(before);
  });
});

describe('channel: pipelined requests beyond channelRequestLookahead', () => {
  const listener = { unix: false, serverPort: '8080' };

  for (const lookahead of [0, 2]) {
    it(`lookahead ${lookahead}: parses no further into a read while requests wait, then answers every one in order`, async () => {
      const waiting: (() => void)[] = [];
      const later: App = (environ, startResponse) => new Promise((resolve) => {
        waiting.push(() => {
          startResponse('200 OK', [['Content-Type', 'text/plain']]);
          resolve([Buffer.from(String(environ.PATH_INFO))]);
        });
      });
      const server = createServer(later, { listen: '127.0.0.1:0', channelRequestLookahead: lookahead, logger: recordingLogger() });
      const parsers = sinon.spy(server, 'newParser');
      const socket = new FakeSocket();
      new Channel(socket as unknown as net.Socket, listener, server);
      // One read of 100 pipelined requests (a 64 KiB read can hold 2,400): one runs, and no more
      // than lookahead + 32 (channel.ts PARSED_AHEAD, so that a batch leaves in one write) wait parsed.
      socket.emit('data', Buffer.from(Array.from({ length: 100 }, (_, i) => get(`/${i}`)).join(''), 'latin1'));
      expect(parsers.callCount).to.equal(1 + lookahead + 32);
      expect(socket.isPaused()).to.equal(true);
      for (let answered = 0; answered < 100; answered++) {
        expect(waiting, `request ${answered}`).to.have.length(1);
        waiting.shift()!();
        await nextTurn();
        expect(parsers.callCount).to.be.at.most(Math.min(100, answered + 2 + lookahead + 32));
      }
      expect(socket.bodies()).to.deep.equal(Array.from({ length: 100 }, (_, i) => `/${i}`));
      expect(socket.isPaused()).to.equal(false);
    });
  }

  it('answers what a read left unparsed after the client has closed its side (EOF)', async () => {
    const waiting: (() => void)[] = [];
    const later: App = (environ, startResponse) => new Promise((resolve) => {
      waiting.push(() => {
        startResponse('200 OK', [['Content-Type', 'text/plain']]);
        resolve([Buffer.from(String(environ.PATH_INFO))]);
      });
    });
    const server = createServer(later, { listen: '127.0.0.1:0', logger: recordingLogger() });
    const socket = new FakeSocket();
    new Channel(socket as unknown as net.Socket, listener, server);
    socket.emit('data', Buffer.from(get('/a') + get('/b') + get('/c'), 'latin1'));
    socket.emit('end');
    while (waiting.length > 0) {
      waiting.shift()!();
      await nextTurn();
    }
    expect(socket.bodies()).to.deep.equal(['/a', '/b', '/c']);
    expect(socket.writableEnded).to.equal(true);
  });
});
