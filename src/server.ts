// The server: listeners (TCP, unix socket, already-open sockets), the channel
// registry with the connection limit, the idle sweep, the task gate (`threads`),
// the adjustment pipeline in front of the app, and a graceful close().

import cluster from 'node:cluster';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as nodePath from 'node:path';
import { createAccessLog, requestFields, type AccessLog } from './access-log.js';
import { formatServingUrl, makeAdjustments, resolveListen, type Adjustments, type ServeOptions } from './adjustments.js';
import { Channel, type ChannelHost, type ListenerInfo } from './channel.js';
import { CLOCK_RESOLUTION_MS, monotonicMs } from './clock.js';
import { buildEnviron, type EnvironSettings } from './environ.js';
import { HttpError, InvalidOptionError, ListenError, ServerClosedError } from './errors.js';
import { RequestParser, type ParserLimits } from './parser.js';
import { buildPipeline, type Pipeline } from './pipeline.js';
import type { ParsedRequest } from './request.js';
import { Task, writeErrorResponse, type TaskFinished, type TaskSettings } from './task.js';
import type { App, Logger } from './types.js';
import { clearStaleSocket } from './unix-socket-file.js';

/** One listening socket and what the environ says about it. */
interface Listener extends ListenerInfo {
  server: net.Server;
  /** Where it listens, as net.Server.address() gives it; for an adopted unix socket descriptor, its path. */
  address: net.AddressInfo | string | null;
}

/**
 * The path a listening unix socket descriptor is bound to, read from Linux's /proc
 * (a socket's inode, then its line in /proc/net/unix): Node's address() knows only
 * the paths it bound itself. Null where that cannot be read or the socket has none.
 */
function boundUnixPath(fd: number): string | null {
  // A cluster worker's descriptor N is not the socket: the primary holds it and listens for the workers.
  const holder = cluster.isWorker ? String(process.ppid) : 'self';
  try {
    const inode = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${holder}/fd/${fd}`))?.[1];
    if (inode === undefined) return null;
    for (const line of fs.readFileSync('/proc/net/unix', 'latin1').split('\n')) {
      // Num RefCount Protocol Flags Type St Inode Path
      const columns = line.trim().split(/\s+/);
      if (columns[6] === inode) return columns[7] ?? null;
    }
  } catch {
    // not Linux, or /proc not mounted
  }
  return null;
}

/** A listener as a start-up error names it. */
function describeListen(how: net.ListenOptions | net.Server | net.Socket | { fd: number }): string {
  if (how instanceof net.Server || how instanceof net.Socket) return 'the server given in "sockets"';
  if ('fd' in how && typeof how.fd === 'number') return `descriptor ${how.fd} (given in "sockets")`;
  const options = how as net.ListenOptions;
  if (options.path !== undefined) return `unix socket ${options.path}`;
  const host = options.host ?? '';
  return `${net.isIPv6(host) ? `[${host}]` : host}:${options.port}`;
}

/**
 * What an operator needs to act on a failed unix-socket bind. libuv reports a missing
 * directory as EACCES (a systemd RuntimeDirectory= left out, say), and a cluster worker
 * cannot replace a stale socket file: only the primary can, before the workers listen.
 */
function explainUnixListenError(err: unknown, path: string, owner: boolean): unknown {
  if (!(err instanceof ListenError)) return err;
  const code = (err.cause as NodeJS.ErrnoException | undefined)?.code;
  const directory = nodePath.dirname(path);
  let hint: string | null = null;
  if (code === 'EACCES' && !fs.existsSync(directory)) hint = `the directory ${directory} does not exist`;
  else if (code === 'EADDRINUSE' && !owner) {
    hint = 'in a node:cluster worker a socket file left behind is not replaced: remove a stale one in the primary ' +
      'before forking, with clearStaleUnixSocket(path), as garcon-serve --workers does';
  }
  if (hint === null) return err;
  return new ListenError(`unix socket ${path}`, Object.assign(new Error(`${(err.cause as Error).message} (${hint})`), { code }));
}

/** `rw-rw----` for 0o660: the permission bits as ls shows them. */
function symbolicMode(mode: number): string {
  let text = '';
  for (let shift = 6; shift >= 0; shift -= 3) {
    const bits = (mode >> shift) & 7;
    text += `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${bits & 1 ? 'x' : '-'}`;
  }
  return text;
}

/** The longest unix socket path the kernel takes (sun_path, less its NUL); longer ones are cut silently. */
const UNIX_PATH_MAX = process.platform === 'linux' ? 107 : 103;

/** Descriptors kept free for listeners, temp files of request bodies, the app's own files. */
const DESCRIPTOR_RESERVE = 32;
/**
 * How long close() leaves idle keep-alive connections open (at most shutdownTimeout):
 * long enough for a request a proxy already sent on one to arrive and be answered.
 */
const IDLE_CLOSE_GRACE_MS = 1000;
/** While connections wait for a slot, one that has sent nothing for this long since it opened gives its slot up. */
const SILENT_GRACE_MS = 2000;
/** Refusals the server caused (a body it could not store) are logged at most this often: any client can cause them. */
const CAUSED_REFUSAL_LOG_MS = 10_000;

/** The soft limit on open files (Linux /proc), or null where it cannot be read. */
function openFileLimit(): number | null {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return line && line[1] !== 'unlimited' ? Number(line[1]) : null;
  } catch {
    return null;
  }
}

export class GarconServer implements ChannelHost {
  readonly adjustments: Adjustments;
  readonly logger: Logger;
  readonly #app: App;
  readonly #adjust: Pipeline;
  readonly #parserLimits: ParserLimits;
  readonly #environSettings: EnvironSettings;
  readonly #taskSettings: TaskSettings;
  readonly #accessLog: AccessLog | null;
  readonly #listeners: Listener[] = [];
  readonly #channels = new Set<Channel>();
  /** Accepted sockets held unread while the connection limit is reached (the excess waits). */
  readonly #parked: { socket: net.Socket; listener: Listener }[] = [];
  /** Requests waiting for a free slot (threads), oldest first. */
  #waiting: { channel: Channel; request: ParsedRequest }[] = [];
  #active = 0;
  /** How many accepted sockets may be held unread past the connection limit (see #park). */
  #parkLimit = 0;
  /** When a refusal the server caused was last logged, and how many have not been since. */
  #causedRefusalLoggedAt = -Infinity;
  #causedRefusalsUnlogged = 0;
  #draining = false;
  #atLimit = false;
  /** Kept-alive connections waiting for a request, in the order they began to (wentIdle). */
  readonly #idle = new Set<Channel>();
  /** Connections that have sent nothing yet, in the order they were opened. */
  readonly #silent = new Set<Channel>();
  #sweep: NodeJS.Timeout | null = null;
  #closing: Promise<void> | null = null;
  /** The binding under way or done: a second listen() gets it rather than binding again. */
  #listening: Promise<this> | null = null;
  #closed: (() => void) | null = null;

  constructor(app: App, options: ServeOptions = {}) {
    if (typeof app !== 'function') {
      throw new InvalidOptionError('app', `The application must be a function (environ, startResponse), got ${app === null ? 'null' : typeof app}`);
    }
    const adj = makeAdjustments(options as Record<string, unknown>);
    if (adj.workers > 1 && !cluster.isWorker) {
      // Forking re-runs the process's main module, which only garcon-serve knows to be safe:
      // serving one process while wsgi.multiprocess says several would mislead the app.
      throw new InvalidOptionError('workers', `workers=${adj.workers} runs processes only from garcon-serve (--workers); from your own code, fork with node:cluster and call serve() in each worker (cluster.isWorker), whose listeners the workers then share`);
    }
    this.adjustments = adj;
    this.logger = adj.logger;
    this.#app = app;
    this.#adjust = buildPipeline(adj);
    this.#accessLog = createAccessLog(adj);
    this.#parserLimits = {
      maxRequestHeaderSize: adj.maxRequestHeaderSize,
      maxRequestHeaderFields: adj.maxRequestHeaderFields,
      maxRequestBodySize: adj.maxRequestBodySize,
      inbufOverflow: adj.inbufOverflow,
    };
    this.#environSettings = { serverName: adj.serverName, urlScheme: adj.urlScheme, ident: adj.ident, multiprocess: cluster.isWorker };
    this.#taskSettings = {
      ident: adj.ident,
      exposeTracebacks: adj.exposeTracebacks,
      logger: adj.logger,
      accessLog: this.#accessLog,
    };
  }

  // ChannelHost ---------------------------------------------------------------

  get lookahead(): number {
    return this.adjustments.channelRequestLookahead;
  }

  get highWatermark(): number {
    return this.adjustments.outbufHighWatermark;
  }


  get closing(): boolean {
    return this.#closing !== null;
  }

  newParser(): RequestParser {
    const parser = new RequestParser(this.#parserLimits);
    // The access log's %t and response time count from here: a body still arriving or a
    // wait for a task slot is part of what the client saw.
    if (this.#accessLog !== null) parser.request.receivedAt = process.hrtime.bigint();
    return parser;
  }

  dispatch(channel: Channel, request: ParsedRequest): void {
    if (this.#active < this.adjustments.threads) {
      this.#active++;
      this.#runTask(channel, request);
      return;
    }
    this.#waiting.push({ channel, request });
    this.logger.warn(`Task queue depth is ${this.#waiting.length}`);
  }

  #logCausedRefusal(request: ParsedRequest): void {
    const now = monotonicMs();
    const windowEnd = this.#causedRefusalLoggedAt + CAUSED_REFUSAL_LOG_MS;
    if (now < windowEnd) {
      // Counted, and told in one line when the window ends.
      if (this.#causedRefusalsUnlogged++ === 0) setTimeout(() => this.#logUnloggedRefusals(), windowEnd - now).unref();
      return;
    }
    this.#causedRefusalLoggedAt = now;
    this.logger.error(`Cannot serve ${request.target || 'a request'}: ${request.error!.detail}`, request.error!.cause);
  }

  #logUnloggedRefusals(): void {
    const count = this.#causedRefusalsUnlogged;
    this.#causedRefusalsUnlogged = 0;
    this.#causedRefusalLoggedAt = monotonicMs();
    this.logger.error(`Cannot serve ${count} more request${count === 1 ? '' : 's'} in the last ${CAUSED_REFUSAL_LOG_MS / 1000} s for the same kind of failure (request bodies that could not be stored)`);
  }

  refuse(channel: Channel, request: ParsedRequest): void {
    // A refusal the server caused (a body it could not store) is for the operator to see.
    if (request.error!.cause !== undefined) this.#logCausedRefusal(request);
    const bytesSent = writeErrorResponse(channel, request.error!, request, this.adjustments.ident);
    if (this.#accessLog === null) return;
    // What the parser got before refusing (the proxy stage never ran: the peer's address).
    this.#accessLog.write({
      environ: requestFields(request, channel.remoteAddr),
      status: `${request.error!.status} ${request.error!.reason}`,
      bytesSent,
      startTime: request.receivedAt,
      endTime: process.hrtime.bigint(),
    });
  }

  /** One per server, not one closure per request: a task's response is complete. */
  readonly #taskFinished: TaskFinished = (task, keepAlive) => {
    this.#active--;
    (task.channel as Channel).taskDone(task.request, keepAlive);
    this.#startWaiting();
  };

  forget(channel: Channel): void {
    this.#channels.delete(channel);
    this.#silent.delete(channel);
    // Requests of a gone client still waiting for a task slot would keep their bodies
    // (memory, temp files, descriptors) until their turn came: drop them now.
    if (this.#waiting.length > 0) this.#dropWaiting(channel);
    this.#admitParked();
    if (this.#closed && this.#channels.size === 0) this.#closed();
  }

  // Listening -------------------------------------------------------------------

  /** The bound addresses, one per listener, as net.Server.address() gives them. */
  get addresses(): (net.AddressInfo | string)[] {
    const out: (net.AddressInfo | string)[] = [];
    for (const { address } of this.#listeners) {
      if (address !== null) out.push(address);
    }
    return out;
  }

  /** Bind every listener. Rejects (and closes what was bound) if any fails; may then be called again. */
  listen(): Promise<this> {
    // close() is final: a second close() would return the first one's settled promise
    // and leave what a later listen() bound open.
    if (this.#closing !== null) return Promise.reject(new ServerClosedError());
    // Two calls at once would bind twice, and the failing one would close the other's listeners.
    this.#listening ??= this.#bind().catch((err: unknown) => {
      this.#listening = null;
      throw err;
    });
    return this.#listening;
  }

  async #bind(): Promise<this> {
    const adj = this.adjustments;
    try {
      if (adj.sockets.length > 0) {
        for (const handle of adj.sockets) await this.#listenOn(handle);
      } else if (adj.unixSocket !== null) {
        await this.#listenUnix(adj.unixSocket, adj.unixSocketPerms);
      } else {
        for (const target of await resolveListen(adj)) {
          await this.#listenOn({ host: target.host, port: target.port, backlog: adj.backlog, ipv6Only: target.family === 6 });
        }
      }
    } catch (err) {
      await this.#closeListeners();
      throw err;
    }
    // close() while binding (a name being resolved, a stale socket probed) saw only what
    // was bound then: what came after is closed here, or it would stay bound for good.
    if (this.#closing !== null) {
      await this.#closeListeners();
      throw new ServerClosedError();
    }
    this.#parkLimit = this.#planDescriptors();
    // Timeouts are only checked by the sweep: a channelTimeout shorter than cleanupInterval
    // sets the pace, so a connection is cut within twice its timeout, not at the next 30 s sweep.
    // Not faster than the channels' clock moves (CLOCK_RESOLUTION_MS): a sweep could see no change.
    this.#sweep = setInterval(() => this.#sweepIdle(), Math.max(CLOCK_RESOLUTION_MS, Math.min(adj.cleanupInterval, adj.channelTimeout) * 1000));
    this.#sweep.unref();
    return this;
  }

  async #listenUnix(path: string, perms: number): Promise<void> {
    // Under node:cluster the primary owns the socket file (workers.ts replaces a
    // stale one before forking); workers share it. libuv unlinks it at close.
    const owner = !cluster.isWorker;
    if (Buffer.byteLength(path) > UNIX_PATH_MAX) {
      throw new InvalidOptionError('unixSocket', `unixSocket "${path}" is longer than the ${UNIX_PATH_MAX} bytes a unix socket path may have`);
    }
    if (owner) await clearStaleSocket(path);
    try {
      await this.#listenOn({ path, backlog: this.adjustments.backlog });
    } catch (err) {
      throw explainUnixListenError(err, path, owner);
    }
    fs.chmodSync(path, perms);
    // Said in both forms: a number given as decimal digits (400) is a mode nobody meant (0o620).
    this.logger.info(`unix socket ${path}: mode ${perms.toString(8).padStart(3, '0')} (${symbolicMode(perms)})`);
  }

  #listenOn(how: net.ListenOptions | net.Server | net.Socket | { fd: number }): Promise<void> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true });
    return new Promise<void>((resolve, reject) => {
      const failed = (err: Error) => reject(new ListenError(describeListen(how), err));
      server.once('error', failed);
      const onListening = () => {
        server.off('error', failed);
        server.on('error', (err) => this.logger.error('server accept() threw an exception', err));
        // Only a unix socket adopted from a descriptor has no address(): its path comes from /proc.
        const adoptedFd = typeof how === 'object' && 'fd' in how && typeof how.fd === 'number' ? how.fd : null;
        const address = server.address() ?? (adoptedFd === null ? null : boundUnixPath(adoptedFd));
        const unix = address === null || typeof address === 'string';
        const listener: Listener = {
          server,
          address,
          serverPort: typeof address === 'string' ? address : String(address?.port ?? ''),
          unix,
        };
        server.on('connection', (socket) => this.#accept(socket, listener));
        this.#listeners.push(listener);
        resolve();
      };
      if (how instanceof net.Server || how instanceof net.Socket || 'fd' in how) {
        // Socket activation: the handle is already bound; listen() adopts it.
        try {
          server.listen(how as net.Server, onListening);
        } catch {
          // Node throws at once for a server or socket with no handle, quoting the whole object.
          failed(new Error('it has no bound socket to adopt (give a listening net.Server, a net.Socket with a handle, or { fd })'));
        }
      } else {
        server.listen(how, onListening);
      }
    });
  }

  // Connections -------------------------------------------------------------------

  #accept(socket: net.Socket, listener: Listener): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    if (this.#channels.size >= this.adjustments.connectionLimit) {
      this.#park(socket, listener);
      return;
    }
    this.#open(socket, listener);
  }

  #open(socket: net.Socket, listener: Listener): void {
    const channel = new Channel(socket, listener, this);
    this.#channels.add(channel);
    this.#silent.add(channel);
    // A socket reset before we saw it may already be closed (CVE-2024-49769).
    if (socket.destroyed) channel.destroy();
  }

  /**
   * Node cannot leave connections in the kernel backlog the way Waitress does, so
   * the excess is accepted and held unread, oldest first, until a slot frees; past
   * `backlog` held sockets a new one is refused (closed) to bound file descriptors.
   */
  #park(socket: net.Socket, listener: Listener): void {
    if (!this.#atLimit) {
      this.#atLimit = true;
      this.logger.warn('total open connections reached the connection limit, no longer accepting new connections');
    }
    if (this.#parked.length >= this.#parkLimit) {
      socket.destroy();
      return;
    }
    this.#makeRoom();
    socket.pause();
    socket.on('error', () => undefined);
    // A client that connects and closes without a byte (a health check, a port scan) ends
    // at once: nothing is left to serve, and it must not hold a slot once admitted.
    socket.once('end', () => socket.destroy());
    const entry = { socket, listener };
    socket.once('close', () => {
      const i = this.#parked.indexOf(entry);
      if (i !== -1) this.#parked.splice(i, 1);
    });
    this.#parked.push(entry);
  }

  /**
   * Past the open-file limit the kernel accepts nothing and libuv drops new
   * connections without telling anyone (EMFILE), so: never hold more parked
   * sockets than the descriptors left, and say at start-up when connectionLimit
   * alone can run the process out of descriptors.
   */
  #planDescriptors(): number {
    const { connectionLimit, backlog, channelRequestLookahead } = this.adjustments;
    const limit = openFileLimit();
    if (limit === null) return backlog;
    if (limit - connectionLimit - DESCRIPTOR_RESERVE < 0) {
      this.logger.warn(
        `connectionLimit (${connectionLimit}) exceeds what this process's open-file limit (ulimit -n: ${limit}) allows: ` +
        `past about ${Math.max(0, limit - DESCRIPTOR_RESERVE)} connections, new ones are dropped (EMFILE, no file descriptors left). ` +
        'Raise the limit or lower connectionLimit.',
      );
    }
    // Parked sockets get only what every connection could need besides its socket: the temp
    // file of the body its running request has, and of each it may parse ahead (channel.ts
    // holds spilled bodies to the lookahead). Else idle sockets parked by the hundreds would
    // leave uploads a 503 for want of a descriptor.
    const bodyFiles = connectionLimit * (1 + channelRequestLookahead);
    const parked = Math.max(0, Math.min(backlog, limit - connectionLimit - bodyFiles - DESCRIPTOR_RESERVE));
    if (parked === 0 && limit - connectionLimit - DESCRIPTOR_RESERVE >= 0) {
      this.logger.warn(
        `the open-file limit (ulimit -n: ${limit}) leaves no descriptors to hold connections past connectionLimit (${connectionLimit}) ` +
        `once each has room for the temp files of its request bodies (${1 + channelRequestLookahead}): they are closed at once. ` +
        'Raise the limit or lower connectionLimit or channelRequestLookahead.',
      );
    }
    return parked;
  }

  /**
   * Connections holding slots while others wait must not keep them out for good. A
   * connection silent for SILENT_GRACE_MS since it opened goes first (else one that
   * opens connections and sends nothing could push out clients that do); then the
   * kept-alive connection idle longest (a proxy's pool holds dozens), the least
   * likely to be reused this moment.
   */
  #makeRoom(): void {
    // Listed in the order they were opened: if the first is not old enough, none is.
    const silentLongest = this.#silent.values().next().value;
    if (silentLongest !== undefined && monotonicMs() - silentLongest.lastActivity >= SILENT_GRACE_MS) {
      silentLongest.destroy();
      return;
    }
    // Listed in the order they went idle: the first one whose output is all sent.
    for (const channel of this.#idle) {
      if (channel.idle) {
        channel.close();
        return;
      }
    }
  }

  /** ChannelHost: the channel has sent its first bytes. */
  spoke(channel: Channel): void {
    this.#silent.delete(channel);
  }

  /** ChannelHost: kept-alive connections waiting for their next request, oldest first (a Set keeps insertion order). */
  wentIdle(channel: Channel): void {
    this.#idle.add(channel);
  }

  leftIdle(channel: Channel): void {
    this.#idle.delete(channel);
  }

  /** ChannelHost: connections wait for a slot. */
  get connectionsWaiting(): boolean {
    return this.#parked.length > 0;
  }

  #admitParked(): void {
    while (this.#parked.length > 0 && this.#channels.size < this.adjustments.connectionLimit && !this.#closing) {
      const { socket, listener } = this.#parked.shift()!;
      socket.removeAllListeners('close');
      socket.removeAllListeners('error');
      socket.removeAllListeners('end');
      socket.resume();
      this.#open(socket, listener);
    }
    // Only once a waiting connection did not take the freed slot is there room again.
    if (this.#atLimit && this.#channels.size < this.adjustments.connectionLimit) {
      this.#atLimit = false;
      this.logger.info('total open connections dropped below the connection limit, listening again');
    }
  }

  /** Close channels silent for channelTimeout, and requests that arrive too slowly (slowloris). */
  #sweepIdle(): void {
    const now = monotonicMs();
    // A channel's timestamps may be up to the clock's resolution old when taken: waiting
    // that much longer means no client is ever cut before channelTimeout has passed.
    const limit = this.adjustments.channelTimeout * 1000 + CLOCK_RESOLUTION_MS;
    for (const channel of this.#channels) {
      if (channel.timedOut(now, limit)) channel.destroy();
    }
  }

  // Tasks -------------------------------------------------------------------------

  #runTask(channel: Channel, request: ParsedRequest): void {
    const task = new Task(request, channel, this.#taskSettings, this.#taskFinished);
    const environ = buildEnviron(request, channel, this.#environSettings);
    try {
      this.#adjust(environ, request);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      task.refuse(environ, err);
      return;
    }
    task.run(this.#app, environ);
  }

  #dropWaiting(channel: Channel): void {
    this.#waiting = this.#waiting.filter((entry) => {
      if (entry.channel !== channel) return true;
      entry.request.close();
      return false;
    });
  }

  /** Start waiting tasks as slots free up; a loop, not recursion, so long queues cannot blow the stack. */
  #startWaiting(): void {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#waiting.length > 0 && this.#active < this.adjustments.threads) {
        const { channel, request } = this.#waiting.shift()!;
        // Waitress's rule: a request whose client has gone by its turn is never run.
        if (!channel.connected) {
          request.close();
          continue;
        }
        this.#active++;
        this.#runTask(channel, request);
      }
    } finally {
      this.#draining = false;
    }
  }

  // Shutdown ------------------------------------------------------------------------

  /**
   * Graceful close: stop accepting, let requests in flight finish (at most
   * shutdownTimeout seconds, then their connections are cut), close idle
   * keep-alive connections, remove the unix socket file. Resolves when every
   * socket is closed.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = (async () => {
      if (this.#sweep) clearInterval(this.#sweep);
      const allClosed = new Promise<void>((resolve) => {
        this.#closed = resolve;
      });
      const listenersClosed = this.#closeListeners();
      for (const { socket } of this.#parked.splice(0)) socket.destroy();
      for (const channel of this.#channels) channel.shutdown();
      if (this.#channels.size === 0) this.#closed!();
      // Idle keep-alive connections stay open a moment: a proxy may be sending a request on
      // one right now, and would meet a reset (a 502 for a POST, which it never retries).
      const grace = setTimeout(() => {
        for (const channel of this.#channels) channel.closeIfIdle();
      }, Math.min(IDLE_CLOSE_GRACE_MS, this.adjustments.shutdownTimeout * 1000));
      grace.unref();
      const cutoff = setTimeout(() => {
        // Waitress warns when threads are still running at the end: say what is being cut.
        this.logger.warn(`shutdownTimeout (${this.adjustments.shutdownTimeout} s) reached: closing ${this.#channels.size} connection(s) with requests still in flight`);
        for (const channel of this.#channels) channel.destroy();
      }, this.adjustments.shutdownTimeout * 1000);
      cutoff.unref();
      await Promise.all([allClosed, listenersClosed]);
      clearTimeout(grace);
      clearTimeout(cutoff);
      this.#accessLog?.close();
    })();
    return this.#closing;
  }

  /** Open the access log file again by its name, after logrotate moved it (garcon-serve: SIGHUP). */
  reopenLogFiles(): void {
    this.#accessLog?.reopen();
  }

  async #closeListeners(): Promise<void> {
    const listeners = this.#listeners.splice(0);
    await Promise.all(listeners.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

/** Create a server (options validated now, nothing bound until listen()). */
export function createServer(app: App, options: ServeOptions = {}): GarconServer {
  return new GarconServer(app, options);
}

/**
 * Create a server, bind it, and print one `Serving on http://HOST:PORT` line per listener.
 * @example
 * const server = await serve(app, { listen: '127.0.0.1:8080' });
 * await server.close();
 */
export async function serve(app: App, options: ServeOptions = {}): Promise<GarconServer> {
  const server = new GarconServer(app, options);
  try {
    await server.listen();
  } catch (err) {
    await server.close(); // the access log file it opened
    throw err;
  }
  for (const address of server.addresses) process.stdout.write(`Serving on ${formatServingUrl(address)}\n`);
  return server;
}
