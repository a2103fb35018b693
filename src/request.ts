// The record the parser fills in for one request and the channel hands to the task.

import { emptyInput, type BodyBuffer } from './buffers.js';
import type { HttpError } from './errors.js';
import { FieldFlag } from './header-names.js';
import type { WsgiInput } from './types.js';

/** The HTTP version a request is served as (HTTP/1.x with x > 1 is served as 1.1). */
export type HttpVersion = '1.0' | '1.1';

export class ParsedRequest {
  /** Request method, as sent (always upper-case tchars). */
  method = 'GET';
  /** The raw request-target, latin-1 (REQUEST_URI / RAW_URI). */
  target = '';
  /** The path, percent-decoded, one char per byte (PEP 3333 latin-1 tunnelling). */
  path = '';
  /** The raw query string without '?', '' when absent. */
  query = '';
  version: HttpVersion = '1.0';
  /**
   * End-to-end request headers under their environ keys (CONTENT_TYPE,
   * CONTENT_LENGTH, HTTP_*), repeated fields joined with ', '. Names containing
   * '_' are dropped; hop-by-hop fields are in hopFields.
   */
  // A plain object, not Object.create(null): every key starts with HTTP_ or CONTENT_,
  // so none can reach Object.prototype, and V8 keeps such objects in its fast mode.
  headers: Record<string, string> = {};
  /**
   * The hop-by-hop fields (HOP_BY_HOP_KEYS: Connection, Transfer-Encoding, TE,
   * Upgrade, ...) under their environ keys, or null when none came: the engine
   * acts on them and they never reach the environ.
   */
  hopFields: Record<string, string> | null = null;
  /** FieldFlag bits of the fields that arrived: which adjustment stages have something to do. */
  fieldFlags: FieldFlag = FieldFlag.None;
  /** The request asked for a persistent connection (Connection tokens and version rules). */
  keepAlive = false;
  /** Close after answering, whatever the response says (e.g. Content-Length with Transfer-Encoding). */
  forceClose = false;
  /** `Expect: 100-continue` on an HTTP/1.1 request that has a body. */
  expectContinue = false;
  /** The body arrived with chunked framing. */
  chunked = false;
  /** Body bytes after de-chunking; null when the request has no body. */
  body: BodyBuffer | null = null;
  /** Set when the request is refused; the channel answers it and closes. */
  error: HttpError | null = null;
  /** process.hrtime.bigint() when its first bytes were read, for the access log (0n when there is none). */
  receivedAt = 0n;

  /** The reader given for a request without a body, closed with the request like a body's. */
  #noBodyInput: WsgiInput | null = null;

  /** A fresh wsgi.input over the body. */
  input(): WsgiInput {
    if (this.body !== null) return this.body.input();
    return (this.#noBodyInput = emptyInput());
  }

  /** Release the body (memory or temp file), and close the readers handed out: a kept one throws InputClosedError. */
  close(): void {
    this.body?.close();
    this.#noBodyInput?.close();
  }
}
