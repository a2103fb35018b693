// When a channel's answers are written (channel.ts, turnQueue): driven with fake
// sockets, so that "in the same event-loop turn" is exact, not likely.

import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import type * as net from 'node:net';
import sinon from 'sinon';
import { Channel } from '../src/channel.js';
import { CLOCK_RESOLUTION_MS } from '../src/clock.js';
import { ServiceUnavailable } from '../src/errors.js';
import { ParsedRequest } from '../src/request.js';
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

/** An async app whose answers (its PATH_INFO) wait until the test calls the functions in `waiting`, oldest first. */
function answeredLater(): { later: App; waiting: (() => void)[] } {
  const waiting: (() => void)[] = [];
  const later: App = (environ, startResponse) => new Promise((resolve) => {
    waiting.push(() => {
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      resolve([Buffer.from(String(environ.PATH_INFO))]);
    });
  });
  return { later, waiting };
}

describe('channel: pipelined requests beyond channelRequestLookahead', () => {
  const listener = { unix: false, serverPort: '8080' };

  for (const lookahead of [0, 2]) {
    it(`lookahead ${lookahead}: parses no further into a read while requests wait, then answers every one in order`, async () => {
      const { later, waiting } = answeredLater();
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
    const { later, waiting } = answeredLater();
    const server = createServer(later, { listen: '127.0.0.1:0', logger: recordingLogger() });
    const socket = new FakeSocket();
    new Channel(socket as unknown as net.Socket, listener, server);
    // 40: more than the 33 parsed ahead, so 7 are still unparsed when EOF comes.
    socket.emit('data', Buffer.from(Array.from({ length: 40 }, (_, i) => get(`/${i}`)).join(''), 'latin1'));
    socket.emit('end');
    while (waiting.length > 0) {
      waiting.shift()!();
      await nextTurn();
    }
    expect(socket.bodies()).to.deep.equal(Array.from({ length: 40 }, (_, i) => `/${i}`));
    expect(socket.writableEnded).to.equal(true);
  });

  it('after EOF, requests a synchronous app answers in the middle of a read do not close the connection before the rest is parsed', async () => {
    let release: (() => void) | null = null;
    const firstLater: App = (environ, startResponse) => {
      const path = String(environ.PATH_INFO);
      const answer = (): Buffer[] => {
        startResponse('200 OK', [['Content-Type', 'text/plain']]);
        return [Buffer.from(path)];
      };
      return path === '/0' ? new Promise((resolve) => { release = () => resolve(answer()); }) : answer();
    };
    const server = createServer(firstLater, { listen: '127.0.0.1:0', logger: recordingLogger() });
    const socket = new FakeSocket();
    new Channel(socket as unknown as net.Socket, listener, server);
    socket.emit('data', Buffer.from(Array.from({ length: 100 }, (_, i) => get(`/${i}`)).join(''), 'latin1'));
    socket.emit('end');
    release!();
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(socket.bodies()).to.deep.equal(Array.from({ length: 100 }, (_, i) => `/${i}`));
    expect(socket.writableEnded).to.equal(true);
  });

  it('parses no more bodies that went to temp files ahead than the lookahead (each holds a descriptor)', async () => {
    const { later, waiting } = answeredLater();
    const server = createServer(later, { listen: '127.0.0.1:0', inbufOverflow: 1, logger: recordingLogger() });
    const socket = new FakeSocket();
    new Channel(socket as unknown as net.Socket, listener, server);
    const descriptors = () => fs.readdirSync('/proc/self/fd').length;
    const before = descriptors();
    socket.emit('data', Buffer.from(Array.from({ length: 40 }, (_, i) => `POST /${i} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab`).join(''), 'latin1'));
    expect(descriptors() - before).to.be.at.most(1); // 33 before
    while (waiting.length > 0) {
      waiting.shift()!();
      await nextTurn();
    }
    expect(socket.bodies()).to.have.length(40);
    expect(descriptors()).to.equal(before);
  });
});

describe('server: refusals the server caused', () => {
  it('are logged at most once per 10 s, with one line for how many more there were', async () => {
    // The channels' clock keeps a reading for CLOCK_RESOLUTION_MS (on a real timer): let it lapse first.
    await new Promise((resolve) => setTimeout(resolve, CLOCK_RESOLUTION_MS + 10));
    const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'performance'] });
    try {
      const logger = recordingLogger();
      const server = createServer(pathApp, { listen: '127.0.0.1:0', logger });
      const refuse = () => {
        const request = new ParsedRequest();
        request.target = '/upload';
        request.error = new ServiceUnavailable('The request body could not be stored; try again later', new Error('EMFILE'));
        server.refuse(new Channel(new FakeSocket() as unknown as net.Socket, { unix: false, serverPort: '8080' }, server), request);
      };
      clock.tick(60_000);
      refuse();
      for (let i = 0; i < 20; i++) refuse();
      expect(logger.messages('error')).to.deep.equal(['Cannot serve /upload: The request body could not be stored; try again later']);
      clock.tick(10_000);
      expect(logger.messages('error')).to.have.length(2);
      expect(logger.messages('error')[1]).to.match(/^Cannot serve 20 more requests in the last 10 s /);
      // Quiet since: the next one is logged whole, once the window after the summary has passed.
      clock.tick(11_000);
      refuse();
      expect(logger.messages('error')).to.have.length(3);
    } finally {
      // Its last reading must lapse on the fake timer, or the clock would keep it for later tests.
      clock.tick(CLOCK_RESOLUTION_MS + 1);
      clock.restore();
    }
  });
});
