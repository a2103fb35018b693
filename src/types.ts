// Shared types: the WSGI-style application interface (PEP 3333 ported to Node)
// and the shapes that flow between the server's stages.

/** A chunk of response body. Strings are refused: bodies are bytes. */
export type Chunk = Uint8Array;

/** What an application returns: any (async) iterable of byte chunks, optionally with close(). */
export type AppIterable = (Iterable<Chunk> | AsyncIterable<Chunk>) & { close?: () => unknown };

/** The legacy `write()` callable returned by startResponse. */
export type WriteCallable = (chunk: Chunk) => void;

/**
 * startResponse(status, headers, excInfo?) as PEP 3333 defines it.
 * `status` is e.g. "200 OK"; headers are [name, value] pairs of latin-1 strings.
 */
export type StartResponse = (
  status: string,
  headers: [string, string][],
  excInfo?: unknown,
) => WriteCallable;

/** A WSGI-style application. */
export type App = (environ: Environ, startResponse: StartResponse) => AppIterable | Promise<AppIterable>;

/** A middleware takes an app and returns an app. */
export type Middleware = (app: App) => App;

/** The synchronous request-body stream exposed as environ['wsgi.input']. */
export interface WsgiInput extends Iterable<Buffer> {
  /** Read up to `size` bytes; no size (or a negative one) reads to the end. */
  read(size?: number | null): Buffer;
  /** Read one line (up to and including LF), at most `size` bytes. */
  readline(size?: number | null): Buffer;
  /** Read lines until about `hint` bytes have been read (all lines without a hint). */
  readlines(hint?: number | null): Buffer[];
  /** Move the read position (whence 0 = start, 1 = current, 2 = end); returns the new position. */
  seek(offset: number, whence?: number): number;
  tell(): number;
  close(): void;
}

/** A file-like object accepted by wsgi.file_wrapper (see contract, decision 5). */
export interface FileLike {
  read(size: number): Uint8Array;
  seek?(offset: number, whence?: number): number;
  tell?(): number;
  seekable?(): boolean;
  close?(): unknown;
}

/** Text stream for environ['wsgi.errors']. */
/** environ['wsgi.errors'] (PEP 3333: write, writelines, flush): the server's stderr. */
export interface ErrorStream {
  write(text: string): unknown;
  writelines(lines: Iterable<string>): unknown;
  flush(): unknown;
}

/** The environ: a plain object whose keys are own enumerable properties. */
export interface Environ {
  REQUEST_METHOD: string;
  SCRIPT_NAME: string;
  PATH_INFO: string;
  QUERY_STRING: string;
  REQUEST_URI: string;
  RAW_URI: string;
  SERVER_NAME: string;
  SERVER_PORT: string;
  SERVER_PROTOCOL: string;
  SERVER_SOFTWARE: string;
  REMOTE_ADDR: string;
  REMOTE_HOST: string;
  REMOTE_PORT: string;
  CONTENT_TYPE?: string;
  CONTENT_LENGTH?: string;
  'wsgi.version': readonly [number, number];
  'wsgi.url_scheme': string;
  'wsgi.input': WsgiInput;
  'wsgi.input_terminated': boolean;
  'wsgi.errors': ErrorStream;
  'wsgi.multithread': boolean;
  'wsgi.multiprocess': boolean;
  'wsgi.run_once': boolean;
  'wsgi.file_wrapper': (file: FileLike | number | import('node:fs/promises').FileHandle, blockSize?: number) => AppIterable;
  'garcon.client_disconnected': () => boolean;
  /** Request header fields (PEP 3333: native strings), absent when not sent. */
  [key: `HTTP_${string}`]: string | undefined;
  [key: string]: unknown;
}

/** Any object with pino's logging methods. */
export interface Logger {
  debug(...args: unknown[]): unknown;
  info(...args: unknown[]): unknown;
  warn(...args: unknown[]): unknown;
  error(...args: unknown[]): unknown;
}
