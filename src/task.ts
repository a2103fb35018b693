// One request's run: call the app, validate what it says, frame and write the
// response (Content-Length, chunked or close-delimited), honour back-pressure,
// and turn failures into a 500 or a closed connection (Waitress's task.py).
//
// Synchronous apps run without a single Promise: the task only goes async when
// the app returns a Promise or an AsyncIterable, or the socket needs to drain.

import { requestFields, type AccessLog } from './access-log.js';
import { AppContractError, ClientDisconnected, HttpError, InternalServerError } from './errors.js';
import { streamFile } from './file-sender.js';
import { FileWrapper } from './file-wrapper.js';
import { httpDate } from './http-date.js';
import type { ParsedRequest } from './request.js';
import { serializeHead, statusAllowsBody, validateAppHead, withoutContentLength, type AppHead } from './response-head.js';
import type { App, AppIterable, Chunk, Environ, Logger, StartResponse, WriteCallable } from './types.js';

/** What a task needs from its connection. */
export interface TaskChannel {
  readonly connected: boolean;
  /** The connection will close after this response (server shutting down, earlier error). */
  readonly closeRequested: boolean;
  /**
   * Queue bytes on the socket (strings are latin-1); `onWritten` once the kernel has them.
   * `stable`: the bytes will not change (a returned Array's), so even a small piece may be
   * queued without a copy.
   */
  write(data: string | Uint8Array, onWritten?: () => void, stable?: boolean): void;
  /** More than `limit` (default outbufHighWatermark) bytes wait to be sent. */
  needsDrain(limit?: number): boolean;
  /** Resolves when no more than `limit` bytes wait (the socket drained) or the socket closed. */
  drained(limit?: number): Promise<void>;
}

/** Per-server settings a task reads. */
export interface TaskSettings {
  ident: string | null;
  exposeTracebacks: boolean;
  logger: Logger;
  /** Told once per finished response, or null. */
  accessLog: AccessLog | null;
}

/** Told once per task when its response is complete; `keepAlive`: the connection may carry another request. */
export type TaskFinished = (task: Task, keepAlive: boolean) => void;

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

/**
 * Write an error page for `request`'s `error` (parser errors, 500s; the connection then
 * closes); returns the body bytes sent. A HEAD request gets the head alone (RFC 9110
 * section 9.3.2), whose Content-Length is the page a GET would get.
 */
export function writeErrorResponse(channel: TaskChannel, error: HttpError, request: ParsedRequest, ident: string | null): number {
  const body = Buffer.from(error.body(ident), 'utf8');
  let head = `HTTP/${request.version} ${error.status} ${error.reason}\r\nConnection: close\r\nContent-Length: ${body.length}\r\n` +
    `Content-Type: text/plain; charset=utf-8\r\nDate: ${httpDate()}\r\n`;
  if (ident) head += `Server: ${ident}\r\n`;
  channel.write(head + '\r\n');
  if (request.method === 'HEAD') return 0;
  channel.write(body);
  return body.length;
}

export class Task {
  readonly request: ParsedRequest;
  readonly channel: TaskChannel;
  readonly #settings: TaskSettings;
  readonly #finishedHook: TaskFinished;
  /** Only measured when someone reads it (the access log). */
  /** REMOTE_ADDR as the proxy stage left it, before the app could change it (for the access log). */
  #clientAddress = '';
  #environ: Environ | null = null;
  #head: AppHead | null = null;
  #headSent = false;
  /** Body bytes put on the wire. */
  #bytesSent = 0;
  #length: number | null = null;
  #chunked = false;
  #keepAlive = false;
  #noBody = false;
  #warnedExcess = false;
  #finished = false;

  constructor(request: ParsedRequest, channel: TaskChannel, settings: TaskSettings, finished: TaskFinished) {
    this.request = request;
    this.channel = channel;
    this.#settings = settings;
    this.#finishedHook = finished;
  }

  /** Run the app on an environ the pipeline has already adjusted. */
  run(app: App, environ: Environ): void {
    this.#environ = environ;
    if (this.#settings.accessLog) this.#clientAddress = String(environ.REMOTE_ADDR);
    let result: AppIterable | Promise<AppIterable>;
    try {
      result = app(environ, this.#startResponse);
    } catch (err) {
      this.#fail(err, undefined);
      return;
    }
    // An Array (the usual answer) is no Promise: no need to look for a `then` up its prototype chain.
    if (!Array.isArray(result) && isPromiseLike(result)) {
      result.then((it) => this.#consume(it), (err: unknown) => this.#fail(err, undefined));
    } else {
      this.#consume(result as AppIterable);
    }
  }

  /** Answer with an error page instead of running the app (e.g. a malformed proxy header). */
  refuse(environ: Environ, error: HttpError): void {
    this.#environ = environ;
    if (this.#settings.accessLog) this.#clientAddress = String(environ.REMOTE_ADDR);
    this.#respondWithError(error);
  }

  #startResponse: StartResponse = (status, headers, excInfo) => {
    // Read as Waitress does (`if exc_info:`): null, false or '' is no excInfo, so a wrapper
    // passing `excInfo ?? null` or `excInfo || false` changes nothing.
    const hasExcInfo = Boolean(excInfo);
    if (this.#head !== null && !hasExcInfo) {
      throw new AppContractError('start_response called a second time without providing exc_info.');
    }
    if (hasExcInfo && this.#headSent) throw excInfo; // PEP 3333: too late to change the head.
    this.#head = validateAppHead(status, headers);
    return this.#write;
  };

  #write: WriteCallable = (chunk: Chunk) => {
    // A write() kept past the end of its response would land in the next request's response.
    if (this.#finished) throw new AppContractError('write() called after the response ended');
    if (!(chunk instanceof Uint8Array)) throw new AppContractError(`write() takes bytes (a Uint8Array), got ${typeof chunk}`);
    this.#writeBody(chunk);
  };

  #consume(iterable: AppIterable): void {
    try {
      // Once the head is out (the app used write()), a file is just more body: iterated below.
      if (iterable instanceof FileWrapper && this.#head !== null && !this.#headSent && iterable.seekable()) {
        this.#sendFile(iterable).then(undefined, (err: unknown) => this.#fail(err, iterable));
        return;
      }
      if (Array.isArray(iterable)) {
        this.#sendArray(iterable as Chunk[]);
        this.#close(iterable);
        this.#finish();
        return;
      }
      if (iterable && typeof (iterable as Iterable<Chunk>)[Symbol.iterator] === 'function') {
        this.#pumpSync((iterable as Iterable<Chunk>)[Symbol.iterator](), iterable);
        return;
      }
      if (iterable && typeof (iterable as AsyncIterable<Chunk>)[Symbol.asyncIterator] === 'function') {
        this.#pumpAsync(iterable as AsyncIterable<Chunk>).then(undefined, (err: unknown) => this.#fail(err, iterable));
        return;
      }
      throw new AppContractError('the application must return an iterable of Uint8Array chunks');
    } catch (err) {
      this.#fail(err, iterable);
    }
  }

  /** Contract decision 4: an Array's length is known, so it gets a Content-Length. */
  #sendArray(chunks: Chunk[]): void {
    let total = 0;
    for (const chunk of chunks) {
      if (!(chunk instanceof Uint8Array)) throw new AppContractError('the application returned a chunk that is not a Uint8Array');
      total += chunk.length;
    }
    if (!this.#headSent && this.#head !== null && this.#head.contentLength === null) this.#sendHead(total);
    // The app has given the whole body at once: no later chunk can refill these buffers.
    for (const chunk of chunks) this.#writeBody(chunk, true);
  }

  /** Iterate a sync iterator; suspends (returns) while the socket drains. */
  #pumpSync(it: Iterator<Chunk>, iterable: AppIterable): void {
    for (;;) {
      let step: IteratorResult<Chunk>;
      try {
        if (!this.channel.connected) throw new ClientDisconnected();
        if (this.channel.needsDrain()) {
          // Resumed from a promise callback: nothing above catches there, so this does.
          this.channel.drained().then(() => this.#pumpSync(it, iterable)).catch((err: unknown) => this.#fail(err, iterable));
          return;
        }
        step = it.next();
        if (typeof step !== 'object' || step === null) {
          throw new AppContractError(`the application's iterator returned ${String(step)} from next(), not a { value, done } object`);
        }
      } catch (err) {
        // An iterator whose next() threw is finished; one we stop must be told (below).
        if (err instanceof ClientDisconnected) this.#stopIterator(it);
        this.#fail(err, iterable);
        return;
      }
      if (step.done) break;
      try {
        this.#writeChunk(step.value);
      } catch (err) {
        this.#stopIterator(it);
        this.#fail(err, iterable);
        return;
      }
    }
    this.#close(iterable);
    this.#finish();
  }

  /**
   * Stopping a sync iterator early calls its return(), as for-of does: a generator's
   * finally blocks then run (Python's generator close(); for-await does this for async ones).
   */
  #stopIterator(it: Iterator<Chunk>): void {
    if (typeof it.return !== 'function') return;
    try {
      it.return();
    } catch (err) {
      this.#settings.logger.error(`Exception while closing the application iterable for ${this.#path()}`, err);
    }
  }

  async #pumpAsync(iterable: AsyncIterable<Chunk>): Promise<void> {
    for await (const chunk of iterable) {
      this.#writeChunk(chunk);
      if (this.channel.needsDrain()) await this.channel.drained();
    }
    // for-await calls return() only on early exit; PEP 3333 close() is ours to call.
    this.#close(iterable as AppIterable);
    this.#finish();
  }

  #writeChunk(chunk: unknown): void {
    if (!(chunk instanceof Uint8Array)) throw new AppContractError('the application yielded a chunk that is not a Uint8Array');
    this.#writeBody(chunk);
  }

  #writeBody(chunk: Chunk, stable = false): void {
    // An empty chunk is skipped before anything else (Waitress 5.10): a generator may yield
    // one before it calls start_response lazily.
    if (chunk.length === 0) return;
    if (this.#head === null) throw new AppContractError('start_response was not called before body written');
    if (!this.channel.connected) throw new ClientDisconnected();
    if (!this.#headSent) this.#sendHead(null);
    if (this.#noBody) {
      if (!this.#warnedExcess && this.request.method !== 'HEAD') {
        this.#warnedExcess = true;
        this.#settings.logger.warn(`application-written content was ignored due to HTTP response that may not contain a message-body: (${this.#head.status})`);
      }
      return;
    }
    let data = chunk;
    if (this.#length !== null) {
      const room = this.#length - this.#bytesSent;
      if (data.length > room) {
        if (!this.#warnedExcess) {
          this.#warnedExcess = true;
          this.#settings.logger.warn(`application-written content exceeded the number of bytes specified by Content-Length header (${this.#length})`);
        }
        if (room <= 0) return;
        data = data.subarray(0, room);
      }
    }
    this.#bytesSent += data.length;
    if (this.#chunked) {
      this.channel.write(`${data.length.toString(16).toUpperCase()}\r\n`);
      this.channel.write(data, undefined, stable);
      this.channel.write('\r\n');
    } else {
      this.channel.write(data, undefined, stable);
    }
  }

  /**
   * Decide framing and persistence, then write the head. `knownLength` is the
   * whole body's length when the server knows it (Array, file, empty body).
   */
  #sendHead(knownLength: number | null): void {
    const request = this.request;
    const isHead = request.method === 'HEAD';
    const code = this.#head!.code;
    const bodyAllowed = statusAllowsBody(code);
    // 204, 205 and 304 have no body, so the app's Content-Length is left out of their head;
    // a 205 says so with Content-Length: 0, as 204 and 304 need not (RFC 9110 section 15.3.6).
    const head = bodyAllowed ? this.#head! : withoutContentLength(this.#head!);
    // An empty body for HEAD is the app leaving it out (frameworks do), not the length a GET
    // would have: better no Content-Length than a false one (RFC 9110 section 9.3.2).
    const serverLength = isHead && knownLength === 0 ? null : knownLength;
    const length = bodyAllowed ? head.contentLength ?? serverLength : code === 205 ? 0 : null;
    const v11 = request.version === '1.1';
    // HTTP/1.1 frames an unknown length with chunks; HTTP/1.0 can only close (RFC 9112 section 6.3).
    const chunked = v11 && bodyAllowed && !isHead && length === null;
    const delimited = length !== null || chunked || !bodyAllowed || isHead;
    const keepAlive = request.keepAlive && !request.forceClose && !this.channel.closeRequested && delimited;
    this.#length = length;
    this.#chunked = chunked;
    this.#noBody = !bodyAllowed || isHead;
    this.#keepAlive = keepAlive;
    this.#headSent = true;
    this.channel.write(serializeHead(head, {
      version: v11 ? '1.1' : '1.0',
      contentLength: length,
      chunked,
      connection: keepAlive ? (v11 ? null : 'keep-alive') : 'close',
      date: httpDate(),
      ident: this.#settings.ident,
    }));
  }

  /** Stream a seekable wrapped file: sized from the file, read straight from it (never through the app). */
  async #sendFile(wrapper: FileWrapper): Promise<void> {
    const head = this.#head!;
    const { start, available } = wrapper.extent();
    // The app may promise less than the file holds (send that much) or more (the file wins: Waitress's fix-up).
    if (head.contentLength !== null && head.contentLength > available) {
      this.#head = withoutContentLength(head);
    }
    const total = this.#head!.contentLength ?? available;
    this.#sendHead(total);
    if (!this.#noBody) this.#bytesSent = await streamFile(wrapper, start, total, this.channel);
    this.#close(wrapper);
    this.#finish();
  }

  #finish(): void {
    if (this.#finished) return;
    if (this.#head === null) {
      this.#fail(new AppContractError('the application did not call start_response'), undefined);
      return;
    }
    if (!this.#headSent) this.#sendHead(0);
    if (this.#chunked) this.channel.write('0\r\n\r\n');
    let keepAlive = this.#keepAlive;
    if (this.#length !== null && !this.#noBody && this.#bytesSent < this.#length) {
      // The client would wait forever for the missing bytes: warn and close.
      this.#settings.logger.warn(`application returned too few bytes (${this.#bytesSent}) for specified Content-Length (${this.#length}) via app_iter`);
      keepAlive = false;
    }
    this.#end(this.#head.status, keepAlive);
  }

  #respondWithError(error: HttpError): void {
    this.#bytesSent = writeErrorResponse(this.channel, error, this.request, this.#settings.ident);
    this.#end(`${error.status} ${error.reason}`, false);
  }

  #end(status: string, keepAlive: boolean): void {
    this.#finished = true;
    if (this.#settings.accessLog && this.#environ) {
      this.#settings.accessLog.write({
        environ: requestFields(this.request, this.#clientAddress, this.#environ.REMOTE_USER),
        status,
        bytesSent: this.#bytesSent,
        startTime: this.request.receivedAt,
        endTime: process.hrtime.bigint(),
      });
    }
    this.#finishedHook(this, keepAlive);
  }

  /**
   * PEP 3333: close() on the iterable is always called; its own failure is only logged,
   * a later one too (an async close() that releases a pooled connection may reject).
   */
  #close(iterable: AppIterable | undefined): void {
    if (iterable && typeof iterable.close === 'function') {
      const failed = (err: unknown) => this.#settings.logger.error(`Exception while closing the application iterable for ${this.#path()}`, err);
      try {
        const result: unknown = iterable.close();
        if (isPromiseLike(result)) result.then(undefined, failed);
      } catch (err) {
        failed(err);
      }
    }
  }

  /**
   * The request as log messages name it: its target as sent (REQUEST_URI), which the
   * parser holds to visible ASCII, never the decoded path, whose %0A or %1B would
   * let a client write a line or a terminal escape of its own into the server's log.
   */
  #path(): string {
    return this.request.target;
  }

  #fail(err: unknown, iterable: AppIterable | undefined): void {
    if (this.#finished) return;
    this.#close(iterable);
    if (err instanceof ClientDisconnected || !this.channel.connected) {
      this.#settings.logger.info(`Client disconnected while serving ${this.#path()}`);
      this.#end(this.#head?.status ?? '500 Internal Server Error', false);
      return;
    }
    this.#settings.logger.error(`Exception while serving ${this.#path()}`, err);
    if (this.#headSent) {
      // Too late for a 500: the only honest signal left is to close without finishing the body.
      this.#end(this.#head!.status, false);
      return;
    }
    const detail = this.#settings.exposeTracebacks && err instanceof Error
      ? (err.stack ?? String(err))
      : 'The server encountered an unexpected internal server error';
    this.#respondWithError(new InternalServerError(detail));
  }
}
