// One channel per connection (Waitress's channel.py): feeds bytes to the parser,
// queues complete requests, runs them one at a time so responses stay in request
// order, sends 100 Continue, applies back-pressure in both directions, and closes
// gracefully (end, then a short drain of what the client still sends).

import type * as net from 'node:net';
import { monotonicMs } from './clock.js';
import { UNIX_PEER_ADDRESS, type ConnectionInfo } from './environ.js';
import { RequestParser } from './parser.js';
import type { ParsedRequest } from './request.js';
import type { TaskChannel } from './task.js';

/** What a channel needs from its server. */
export interface ChannelHost {
  readonly lookahead: number;
  readonly highWatermark: number;
  readonly closing: boolean;
  /** Connections wait for a slot (connectionLimit): responses close theirs, so the slots turn over. */
  readonly connectionsWaiting: boolean;
  /** The channel waits for its next request (kept alive), or has stopped waiting: the host lists them, oldest first. */
  wentIdle(channel: Channel): void;
  leftIdle(channel: Channel): void;
  /** The channel's first bytes arrived (until then the host counts it as silent). */
  spoke(channel: Channel): void;
  newParser(): RequestParser;
  /** Run `request` when a task slot is free; the host calls taskDone() once its response is written. */
  dispatch(channel: Channel, request: ParsedRequest): void;
  /** Answer a request the parser refused (request.error) with its error page. */
  refuse(channel: Channel, request: ParsedRequest): void;
  /** The channel's socket has closed for good. */
  forget(channel: Channel): void;
}

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/**
 * Pieces at least this large are written as they are (an app must not change such a
 * Buffer once it has handed it over, as with any Node stream); smaller ones are copied
 * when queued (or at the flush, for a returned Array's), so a generator may refill one
 * buffer for each chunk.
 */
const COPY_LIMIT = 16384;

/**
 * Output is queued as latin-1 text where it can be: a string piece, or a Buffer
 * this small, joins the text queued before it, up to TEXT_JOIN_LIMIT chars. A
 * head and a short body then leave as one string, which the socket encodes
 * straight into its write, with no array growing and no Buffer to copy into;
 * latin-1 maps every byte to one char and back exactly.
 */
const TEXT_PIECE_LIMIT = 1024;
const TEXT_JOIN_LIMIT = 4096;

function latin1(bytes: Uint8Array): string {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return buffer.toString('latin1');
}

function flushOnTick(channel: Channel): void {
  channel.flush();
}

/**
 * Answers given while reading, per event-loop turn: the first channel to answer
 * in a turn writes at once; the others queue here and are written back to back
 * by one setImmediate once the turn's I/O callbacks are done (null: no channel
 * has answered in this turn yet). The first write wakes the client; a client
 * holding many connections (wrk, nginx's upstream keepalive) then finds the
 * rest of the turn's answers together, instead of being woken for each one,
 * which the server's write pays for. On the README's 2-core VM this made
 * keep-alive with 50 connections about 8 % faster (perf: the wake-ups, in
 * sock_def_readable, were 8 % of garcon's time) and changed nothing with 1, 2
 * or 4 connections; writing every answer at the end of the turn was as fast
 * with 50 but 10-25 % slower with 2-4, whose answers then wait for each other.
 */
let turnQueue: Channel[] | null = null;

function endTurn(): void {
  const channels = turnQueue!;
  turnQueue = null;
  for (const channel of channels) channel.flush();
}

/**
 * Requests parsed from one read beyond channelRequestLookahead before any of them runs:
 * a pipelined batch is answered in one write, while a 64 KiB read of 2,400 tiny requests
 * to a slow app is not queued whole (some 0.9 MB); the rest waits unparsed.
 */
const PARSED_AHEAD = 32;

/** After an error response, how long to keep reading (and discarding) before destroying the socket. */
const LINGER_MS = 2000;
/** Bytes per second a body must average once it has been arriving for channelTimeout (slowloris on bodies). */
export const MIN_BODY_RATE = 1024;

/** What a channel knows of the listener that accepted it (one object per listener, shared). */
export interface ListenerInfo {
  /** Its peers are on a unix socket. */
  readonly unix: boolean;
  /** SERVER_PORT: the port, or the socket path for a unix socket. */
  readonly serverPort: string;
}

// Socket events go to handlers shared by every channel (found through this
// symbol), not to closures made per connection: idle connections stay cheap.
const kChannel = Symbol('garcon.channel');
type ChannelSocket = net.Socket & { [kChannel]: Channel };

function onData(this: ChannelSocket, chunk: Buffer): void {
  this[kChannel].received(chunk);
}
function onEnd(this: ChannelSocket): void {
  this[kChannel].ended();
}
function onDrain(this: ChannelSocket): void {
  this[kChannel].drainedEvent();
}
function onClose(this: ChannelSocket): void {
  this[kChannel].closed();
}
function discard(): void {
  // lingering after a close: what the client still sends is read and dropped
}
function ignoreError(): void {
  // 'close' follows; a client that resets is not the server's error.
}

// A channel's flags (Channel.#flags).
/** A request of this channel is being answered. */
const RUNNING = 1;
/** The client sent EOF: answer what was received, then close. */
const READ_ENDED = 2;
/** No more requests will be served on this connection. */
const CLOSE_WHEN_DONE = 4;
/** The server is closing: responses say Connection: close. */
const SHUTTING_DOWN = 8;
/** The socket is open (until its 'close' event). */
const CONNECTED = 16;
/** Client bytes may be left unread at close (error, discarded input, paused reads): linger before closing. */
const UNREAD_INPUT = 32;
/** Inside the #runNext loop: tasks finishing synchronously must not recurse into it. */
const PUMPING = 64;
/** A flush is scheduled (next tick, or the end of the turn). */
const FLUSH_SCHEDULED = 128;
/** Inside received(): it flushes when done, so writes need no tick of their own. */
const RECEIVING = 256;
/** The next queued request waits for the client to read the responses before it (outbufHighWatermark). */
const AWAITING_DRAIN = 512;
/** Closed with client bytes unread: reading (and dropping) them until LINGER_MS, whatever else holds reading. */
const LINGERING = 1024;
/** At least one response went out: the connection is being kept alive between requests. */
const KEPT_ALIVE = 2048;
/** On the host's list of connections waiting for their next request (ChannelHost.wentIdle). */
const LISTED_IDLE = 4096;
/** The client has sent something (ChannelHost.spoke was told). */
const SPOKEN = 8192;
/**
 * Output is backed up past the socket's high-water mark (until 'drain'): the sweep judges the
 * connection by whether the kernel takes any of it, not by silence, so a client reading a
 * large response slowly but steadily is never cut, and one that stops reading is.
 */
const OUTPUT_TIMED = 16384;

export class Channel implements TaskChannel, ConnectionInfo {
  readonly socket: net.Socket;
  readonly #listener: ListenerInfo;
  readonly #host: ChannelHost;
  #parser: RequestParser | null = null;
  /** Complete requests waiting for their turn, oldest first; null when none (an idle connection keeps no array). */
  #queue: ParsedRequest[] | null = null;
  /**
   * The rest of a read, from a request boundary, left unparsed while more requests wait
   * than the lookahead allows (a 64 KiB read of pipelined GETs would otherwise queue
   * 2,400 requests, some 0.9 MB); null when none.
   */
  #unparsed: Buffer | null = null;
  #continueSentFor: ParsedRequest | null = null;
  /** The channel's yes/no state, one bit each (RUNNING, CONNECTED, ...): one field, not nine. */
  #flags = CONNECTED;
  /** Last time bytes moved in either direction (monotonicMs()), for the idle sweep. */
  lastActivity = monotonicMs();
  /** When the request head now arriving began (monotonicMs()), or 0: bounds slowloris heads. */
  #headStartedAt = 0;
  /** When the body now arriving began (monotonicMs()), or 0, and its bytes so far: bounds slowloris bodies. */
  #bodyStartedAt = 0;
  #bodyBytes = 0;
  /** While OUTPUT_TIMED: the bytes the kernel had yet to take at the last look, and when that last changed. */
  #outputLeft = 0;
  #outputMovedAt = 0;
  /** Writers waiting for 'drain'; null when none. */
  #drainWaiters: (() => void)[] | null = null;
  /** Output queued by write() (text joined where it can be), sent in one write by flush() (one syscall for a pipelined batch); null when none. */
  #pending: (string | Uint8Array)[] | null = null;
  #pendingBytes = 0;
  /** REMOTE_ADDR and REMOTE_PORT once a request has asked for them; null until then. */
  #remoteAddr: string | null = null;
  #remotePort: string | null = null;

  constructor(socket: net.Socket, listener: ListenerInfo, host: ChannelHost) {
    this.socket = socket;
    this.#listener = listener;
    this.#host = host;
    (socket as ChannelSocket)[kChannel] = this;
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('drain', onDrain);
    socket.on('close', onClose);
    socket.on('error', ignoreError);
  }

  #is(flag: number): boolean {
    return (this.#flags & flag) !== 0;
  }

  // The connection as the environ describes it (ConnectionInfo). The peer's
  // address and port are read from the socket at the first request and kept:
  // net.Socket's getters go through its internals (`_getpeername`, `_handle`)
  // with megamorphic property loads, which perf put at about 1 % of a
  // keep-alive request's time when they were read at every request.

  /** REMOTE_ADDR; contract decision 14: unix-socket peers are 'localhost' (what trustedProxy is matched against). */
  get remoteAddr(): string {
    return (this.#remoteAddr ??= this.#listener.unix ? UNIX_PEER_ADDRESS : (this.socket.remoteAddress ?? ''));
  }

  get remotePort(): string {
    return (this.#remotePort ??= this.#listener.unix ? '' : String(this.socket.remotePort ?? ''));
  }

  get serverPort(): string {
    return this.#listener.serverPort;
  }

  /** environ['garcon.client_disconnected'], made per request. */
  get clientDisconnected(): () => boolean {
    return () => !this.connected;
  }

  /**
   * False as soon as a write has failed (EPIPE, ECONNRESET: the stream marks itself
   * errored at once, and destroys itself on the next tick), not only once the
   * 'close' event comes: that waits for a later turn of the event loop, which an
   * app streaming synchronously (or from an async generator that never awaits
   * I/O) would never give it, writing into a dead socket forever.
   */
  get connected(): boolean {
    const socket = this.socket;
    return this.#is(CONNECTED) && !socket.errored && !socket.destroyed;
  }

  get closeRequested(): boolean {
    return this.#is(SHUTTING_DOWN) || this.#host.connectionsWaiting;
  }

  /**
   * Kept alive after a response and waiting for the next request: none running, queued
   * or arriving. (A new connection that has sent nothing yet is not: its first request
   * may be on its way.)
   */
  get #awaitingRequest(): boolean {
    return (this.#flags & (KEPT_ALIVE | CLOSE_WHEN_DONE)) === KEPT_ALIVE && this.#parser === null && !this.busy;
  }

  /** Waiting for the next request with nothing left to send: it can be closed without cutting anything. */
  get idle(): boolean {
    return this.#awaitingRequest && this.#pending === null && this.socket.writableLength === 0;
  }

  /** A request is running or waiting (such channels are never timed out). */
  get busy(): boolean {
    return this.#is(RUNNING) || this.#queue !== null;
  }

  write(data: string | Uint8Array, onWritten?: () => void, stable = false): void {
    if (!this.connected) return;
    if (data.length >= COPY_LIMIT || onWritten !== undefined) {
      // Large bodies go out as they are (no copy), after what was queued before
      // them (a head), in the same writev.
      // (A piece whose owner wants it back when written is never held in the batch.)
      if (this.#pending === null) {
        this.#writeNow(data, onWritten);
      } else {
        this.socket.cork();
        this.flush();
        this.#writeNow(data, onWritten);
        this.socket.uncork();
      }
      return;
    }
    // A piece that may change before the flush (a generator refilling one buffer) is copied now.
    const piece = typeof data === 'string' ? data : data.length <= TEXT_PIECE_LIMIT ? latin1(data) : stable ? data : Buffer.from(data);
    const pending = this.#pending;
    if (pending === null) {
      this.#pending = [piece];
    } else {
      const last = pending.length - 1;
      const before = pending[last]!;
      if (typeof piece === 'string' && typeof before === 'string' && before.length + piece.length <= TEXT_JOIN_LIMIT) {
        pending[last] = before + piece;
      } else {
        pending.push(piece);
      }
    }
    this.#pendingBytes += data.length; // strings are latin-1 here: one byte per char
    if (!this.#is(FLUSH_SCHEDULED) && !this.#is(RECEIVING)) {
      this.#flags |= FLUSH_SCHEDULED;
      process.nextTick(flushOnTick, this);
    }
  }

  /** A head is text: one byte per char (a string written without an encoding would go out as UTF-8). */
  #writeNow(data: string | Uint8Array, onWritten?: () => void): void {
    if (typeof data === 'string') this.socket.write(data, 'latin1', onWritten);
    else this.socket.write(data, onWritten);
    if (this.socket.writableNeedDrain) this.#timeOutput();
  }

  /** Output the kernel did not take is timed by its progress from now on (OUTPUT_TIMED); 'drain' ends it. */
  #timeOutput(): void {
    if (this.#is(OUTPUT_TIMED)) return;
    this.#flags |= OUTPUT_TIMED;
    this.#outputLeft = this.#outputQueued();
    this.#outputMovedAt = monotonicMs();
  }

  /**
   * Bytes not yet taken by the kernel. Node's stream counts a write as pending until all of
   * it is taken; the libuv handle's writeQueueSize (what Node's own socket timeout watches:
   * no public API tells write progress) shrinks as the kernel takes each part of it.
   */
  #outputQueued(): number {
    const handle = (this.socket as net.Socket & { _handle?: { writeQueueSize?: unknown } })._handle;
    const inKernelQueue = typeof handle?.writeQueueSize === 'number' ? handle.writeQueueSize : 0;
    return this.socket.writableLength + inKernelQueue;
  }

  #endOutputTiming(): void {
    if (!this.#is(OUTPUT_TIMED)) return;
    this.#flags &= ~OUTPUT_TIMED;
    // Reading was held while the output was backed up: a head or body arriving behind it starts its clock now.
    if (!this.busy) this.#restartArrivalClocks();
  }

  /** Send what write() queued, as a single write. */
  flush(): void {
    this.#flags &= ~FLUSH_SCHEDULED;
    const pieces = this.#pending;
    if (pieces === null) return;
    this.lastActivity = monotonicMs();
    const total = this.#pendingBytes;
    this.#pending = null;
    this.#pendingBytes = 0;
    if (!this.#is(CONNECTED) || this.socket.writableEnded) return;
    if (pieces.length === 1) {
      this.#writeNow(pieces[0]!);
      return;
    }
    const batch = Buffer.allocUnsafe(total);
    let offset = 0;
    for (const piece of pieces) {
      if (typeof piece === 'string') offset += batch.write(piece, offset, 'latin1');
      else {
        batch.set(piece, offset);
        offset += piece.length;
      }
    }
    this.#writeNow(batch);
  }

  /**
   * More than `limit` bytes wait to be sent, and waiting will end: either some are
   * still queued here (drained() flushes them) or the socket will emit 'drain'. Below
   * the socket's own high-water mark (16 KiB) no 'drain' comes, so a smaller limit
   * counts as reached then: the wait would otherwise never end.
   */
  needsDrain(limit: number = this.#host.highWatermark): boolean {
    return this.socket.writableLength + this.#pendingBytes > limit && (this.#pendingBytes > 0 || this.socket.writableNeedDrain);
  }

  drained(limit?: number): Promise<void> {
    this.flush();
    if (!this.connected || !this.needsDrain(limit)) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.#drainWaiters === null) this.#drainWaiters = [resolve];
      else this.#drainWaiters.push(resolve);
    });
  }

  /** The socket's 'drain' event. */
  drainedEvent(): void {
    this.lastActivity = monotonicMs();
    this.#endOutputTiming();
    this.#releaseDrainWaiters();
    this.#updateReading();
  }

  #releaseDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    if (waiters === null) return;
    this.#drainWaiters = null;
    for (const resolve of waiters) resolve();
  }

  /** The socket's 'data' event. */
  received(chunk: Buffer): void {
    this.lastActivity = monotonicMs();
    if (!this.#is(SPOKEN)) {
      this.#flags |= SPOKEN;
      this.#host.spoke(this);
    }
    if (this.#is(CLOSE_WHEN_DONE)) {
      // CVE-2024-49768: nothing read after a close decision is ever dispatched.
      this.#flags |= UNREAD_INPUT;
      return;
    }
    if (this.#unparsed !== null) {
      // Not with net.Socket, whose pause() (made with every #unparsed) stops its reads at
      // once; kept so that no read can overtake the bytes before it.
      chunk = Buffer.concat([this.#unparsed, chunk]);
      this.#unparsed = null;
    }
    // Run as requests complete: a synchronous app answers at once, and reading need not
    // pause and resume (two epoll calls).
    this.#flags |= RECEIVING;
    try {
      this.#consume(chunk);
    } finally {
      this.#flags &= ~RECEIVING;
    }
    // What synchronous apps answered leaves in one write: now, or at the end of the turn (turnQueue).
    if (this.#pending !== null) {
      if (turnQueue === null) {
        turnQueue = [];
        setImmediate(endTurn);
        this.flush();
      } else if (!this.#is(FLUSH_SCHEDULED)) {
        this.#flags |= FLUSH_SCHEDULED;
        turnQueue.push(this);
      }
    }
    this.#updateReading();
  }

  /** Requests running or queued on this connection. */
  get #waiting(): number {
    return (this.#queue === null ? 0 : this.#queue.length) + (this.#is(RUNNING) ? 1 : 0);
  }

  /**
   * Parse `chunk` into requests and run them. At most PARSED_AHEAD requests beyond the
   * lookahead are parsed before they run (a pipelined batch still leaves in one write);
   * when more wait than the lookahead allows once they have run (an async app, a full
   * output buffer), the rest of the chunk is kept unparsed (#unparsed) until they are answered.
   */
  #consume(chunk: Buffer): void {
    let most = this.#host.lookahead + PARSED_AHEAD;
    let offset = 0;
    for (;;) {
      while (offset < chunk.length && this.#waiting <= most) {
        if (this.#parser === null) {
          this.#parser = this.#host.newParser();
          this.#headStartedAt = this.lastActivity;
          if (this.#is(LISTED_IDLE)) this.#unlistIdle();
        }
        const parser = this.#parser;
        const consumed = parser.received(offset === 0 ? chunk : chunk.subarray(offset));
        offset += consumed;
        if (parser.headersFinished && this.#headStartedAt !== 0) {
          this.#headStartedAt = 0;
          this.#bodyStartedAt = this.lastActivity;
          this.#bodyBytes = 0;
        } else if (this.#bodyStartedAt !== 0) {
          this.#bodyBytes += consumed;
        }
        if (!parser.completed) {
          if (parser.headersFinished && parser.request.expectContinue) this.#maybeSendContinue();
          break;
        }
        this.#parser = null;
        this.#headStartedAt = 0;
        this.#bodyStartedAt = 0;
        const request = parser.request;
        if (this.#queue === null) this.#queue = [request];
        else this.#queue.push(request);
        if (request.error) {
          // Everything after a malformed request is untrustworthy: stop parsing it.
          this.#flags |= CLOSE_WHEN_DONE | UNREAD_INPUT;
          break;
        }
        // A body in a temp file holds a descriptor: no more than the lookahead's worth
        // (the server's descriptor budget counts 1 + lookahead a connection).
        if (request.body?.spilled) most = this.#host.lookahead;
      }
      if (offset === chunk.length || this.#is(CLOSE_WHEN_DONE)) {
        this.#runNext();
        return;
      }
      // The rest waits aside while the requests before it run: EOF does not close the
      // connection before it is parsed, and a close drops it as unread input.
      this.#unparsed = chunk.subarray(offset);
      this.#runNext();
      // A request that ran closed the connection (CVE-2024-49768: nothing after it is dispatched).
      if (this.#unparsed === null || this.#waiting > this.#host.lookahead) return;
      this.#unparsed = null;
    }
  }

  /**
   * Run the next queued request, then parse on what a read left unparsed (#unparsed)
   * once no more requests wait than the lookahead allows.
   */
  #advance(): void {
    this.#runNext();
    const rest = this.#unparsed;
    if (rest === null || this.#waiting > this.#host.lookahead) return;
    this.#unparsed = null;
    this.#consume(rest);
  }

  /** RFC 9110 section 10.1.1: ask for the body only when this request is next in line. */
  #maybeSendContinue(): void {
    const request = this.#parser?.request;
    if (!request || this.#continueSentFor === request || this.#is(RUNNING) || this.#queue !== null) return;
    this.#continueSentFor = request;
    this.write(CONTINUE);
  }

  /** Run queued requests one at a time; a loop, so a long synchronous pipeline cannot overflow the stack. */
  #runNext(): void {
    if (this.#is(PUMPING)) return;
    this.#flags |= PUMPING;
    try {
      while (!this.#is(RUNNING) && this.#is(CONNECTED)) {
        // Between pipelined requests the app's own wait applies: a client that sends
        // requests and reads no responses must not make the server buffer them all.
        if (this.#queue !== null && this.needsDrain()) {
          this.#awaitDrain();
          return;
        }
        const request = this.#nextRequest();
        if (request === undefined) {
          // Shutting down, a request on its way is let arrive: shutdown() and closeIfIdle() decide.
          // After EOF, requests still unparsed (#unparsed) are answered first.
          if (this.#is(CLOSE_WHEN_DONE) || (this.#is(READ_ENDED) && this.#unparsed === null)) this.close();
          else if (this.#parser?.headersFinished && this.#parser.request.expectContinue) this.#maybeSendContinue();
          return;
        }
        this.#flags |= RUNNING;
        // A body that came with its head still gets its 100 first, as Waitress sends it
        // (spec 3.9; RFC 9110 section 10.1.1 allows either): clients wait for one.
        if (request.expectContinue && this.#continueSentFor !== request && !request.error) this.write(CONTINUE);
        if (request.error) {
          this.#flags |= CLOSE_WHEN_DONE;
          this.#host.refuse(this, request);
          this.taskDone(request, false);
        } else {
          this.#host.dispatch(this, request);
        }
      }
    } finally {
      this.#flags &= ~PUMPING;
    }
  }

  #awaitDrain(): void {
    if (this.#is(AWAITING_DRAIN)) return;
    this.#flags |= AWAITING_DRAIN;
    this.drained().then(() => {
      this.#flags &= ~AWAITING_DRAIN;
      this.#advance();
      this.#updateReading();
    });
  }

  /** The oldest queued request, taken off the queue (dropped once empty: no array kept while idle). */
  #nextRequest(): ParsedRequest | undefined {
    const queue = this.#queue;
    if (queue === null) return undefined;
    const request = queue.shift();
    if (queue.length === 0) this.#queue = null;
    return request;
  }

  /** The response to `request` is written; go on with the next one or close. */
  taskDone(request: ParsedRequest, keepAlive: boolean): void {
    request.close();
    // An idle keep-alive connection keeps no finished request alive.
    if (this.#continueSentFor === request) this.#continueSentFor = null;
    this.#flags &= ~RUNNING;
    if (!keepAlive) {
      this.#flags |= CLOSE_WHEN_DONE;
      this.#discardQueue();
      this.close();
      return;
    }
    this.#flags |= KEPT_ALIVE;
    if (this.#is(PUMPING)) return; // the #runNext loop goes on, and its caller updates reading
    this.#advance();
    if (!this.busy) this.#restartArrivalClocks();
    this.#updateReading();
  }

  /**
   * A head or body that began arriving behind earlier requests is timed from when they
   * are all answered: until then the server may have paused reading it itself.
   */
  #restartArrivalClocks(): void {
    if (this.#headStartedAt !== 0) this.#headStartedAt = monotonicMs();
    if (this.#bodyStartedAt !== 0) {
      this.#bodyStartedAt = monotonicMs();
      this.#bodyBytes = 0;
    }
  }

  /** Stop reading while requests wait beyond the lookahead or responses are backed up. */
  #updateReading(): void {
    if (!this.#is(CONNECTED) || this.#is(LINGERING)) return;
    // Waiting for the next request now: on the host's list, for the connection limit to take from.
    if (!this.#is(LISTED_IDLE) && this.#awaitingRequest) {
      this.#flags |= LISTED_IDLE;
      this.#host.wentIdle(this);
    }
    const hold = this.#is(CLOSE_WHEN_DONE) || this.#unparsed !== null || this.#waiting > this.#host.lookahead || this.socket.writableNeedDrain;
    if (hold) {
      if (!this.socket.isPaused()) this.socket.pause();
    } else if (this.socket.isPaused()) {
      this.socket.resume();
    }
  }

  /** The socket's 'end' event. */
  ended(): void {
    // Q31 fixed: a half-close means "no more requests", not "gone": pending responses are still sent.
    this.#flags |= READ_ENDED;
    if (this.#parser !== null) {
      this.#parser.request.close(); // a partial request is dropped without a response
      this.#parser = null;
    }
    if (!this.#is(RUNNING) && this.#queue === null) this.close();
  }

  #discardQueue(): void {
    if (this.#unparsed !== null) {
      this.#unparsed = null;
      this.#flags |= UNREAD_INPUT;
    }
    const queue = this.#queue;
    if (queue !== null) {
      this.#queue = null;
      for (const request of queue) request.close();
      this.#flags |= UNREAD_INPUT;
    }
    if (this.#parser !== null) {
      this.#parser.request.close();
      this.#parser = null;
      this.#flags |= UNREAD_INPUT;
    }
  }

  /**
   * The idle sweep's verdict (`now` from monotonicMs(), `limit` in ms): silent for `limit` with
   * nothing running; a head still arriving after `limit` (slowloris, contract 12); or
   * a body arriving for longer than `limit` at under MIN_BODY_RATE on average. Output
   * backed up on a client is judged by progress instead (OUTPUT_TIMED).
   */
  timedOut(now: number, limit: number): boolean {
    if (this.#is(OUTPUT_TIMED)) {
      // Reads are not progress here: a client trickling bytes in could keep a response it never reads.
      // (Reading is held meanwhile, so no arrival is judged either.)
      const left = this.#outputQueued();
      if (left !== this.#outputLeft) {
        this.#outputLeft = left;
        this.#outputMovedAt = now;
      }
      return now - this.#outputMovedAt > limit;
    }
    // While earlier requests run or wait, the server may have paused reading itself: the
    // arrival clocks start again once they are answered (#restartArrivalClocks).
    if (this.#headStartedAt !== 0 && !this.busy && now - this.#headStartedAt > limit) return true;
    // While earlier requests run, the client may rightly hold its body back (Expect: 100-continue).
    if (this.#bodyStartedAt !== 0 && !this.busy) {
      const elapsed = now - this.#bodyStartedAt;
      if (elapsed > limit && (this.#bodyBytes * 1000) / elapsed < MIN_BODY_RATE) return true;
    }
    return !this.busy && now - this.lastActivity > limit;
  }

  /**
   * Finish the connection: flush what is queued and send FIN. When client bytes
   * may be left unread, keep reading (and discarding) briefly so they do not turn
   * our close into an RST that would destroy the response in flight (Q17 fixed);
   * otherwise close as soon as the response is flushed.
   */
  close(): void {
    if (!this.#is(CONNECTED)) return;
    this.#flags |= CLOSE_WHEN_DONE;
    this.#discardQueue();
    const socket = this.socket;
    if (socket.writableEnded) return;
    this.flush();
    if (this.#is(READ_ENDED)) {
      socket.end(); // the client already closed its side: 'close' follows the flush
      return;
    }
    if (!this.#is(UNREAD_INPUT) && !socket.isPaused() && socket.readableLength === 0) {
      // Nothing unread: once the response is in the kernel, close() delivers it and
      // then the FIN, so no shutdown() call is needed.
      if (socket.writableLength === 0) socket.destroy();
      else socket.end(() => socket.destroy());
      return;
    }
    // The linger starts once the response is in the kernel: a slow reader of a large one must
    // not be cut LINGER_MS after the app finished (the sweep's output rule bounds the wait).
    socket.end(() => setTimeout(() => socket.destroy(), LINGER_MS).unref());
    socket.off('data', onData);
    socket.on('data', discard);
    this.#flags |= LINGERING;
    socket.resume();
  }

  /** Close at once without a graceful end (idle timeout, the end of shutdownTimeout). */
  destroy(): void {
    this.#discardQueue();
    this.socket.destroy();
  }

  /**
   * The server is shutting down: a request running or waiting is answered, then the
   * connection closes. So is one whose head is in and whose body is still arriving
   * (at the end of the grace too): a proxy streaming an upload would turn a reset into
   * a 502, and never retries a POST (shutdownTimeout still bounds the wait).
   */
  shutdown(): void {
    this.#flags |= SHUTTING_DOWN;
    if (this.busy) this.#flags |= CLOSE_WHEN_DONE;
    // Otherwise left open for the server's grace (closeIfIdle): a request a proxy sends on
    // it meanwhile, in as many reads as it takes, is answered (Connection: close) instead
    // of meeting a reset.
  }

  /** The end of the shutdown grace: a connection with no request in it (or only part of a head) closes now. */
  closeIfIdle(): void {
    if (!this.busy && (this.#parser === null || !this.#parser.headersFinished)) this.close();
  }

  #unlistIdle(): void {
    this.#flags &= ~LISTED_IDLE;
    this.#host.leftIdle(this);
  }

  /** The socket's 'close' event. */
  closed(): void {
    if (!this.#is(CONNECTED)) return;
    this.#flags &= ~CONNECTED;
    if (this.#is(LISTED_IDLE)) this.#unlistIdle();
    this.#discardQueue();
    this.#releaseDrainWaiters();
    this.#host.forget(this);
  }
}
