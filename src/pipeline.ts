// The adjustment pipeline: what happens to the raw environ between the engine
// and the app, readable in one place. Built once per server; per request each
// stage does only cheap checks when there is nothing to adjust.
//
//   1. trusted-proxy headers  client address, host, port from a trusted proxy;
//                             untrusted proxy headers removed        (proxy-headers.ts)
//   2. url_scheme             the engine sets `urlScheme`; only a trusted
//                             X-Forwarded-Proto / Forwarded proto=http|https
//                             changes it, validated in step 1        (proxy-headers.ts)
//   3. url_prefix             SCRIPT_NAME / PATH_INFO split          (url-prefix.ts)
//   4. hop-by-hop stripping   what Connection names (the fixed hop-by-hop
//                             fields, Connection itself included, never reach
//                             the environ: the parser keeps them apart) (hop-by-hop.ts)
//
// Step 1 runs first so that it judges the proxy headers exactly as they arrived
// (a `Connection: X-Forwarded-For` must not make one vanish before the trust
// decision); step 4 runs last so that the app never sees a hop-by-hop header.

import { FieldFlag } from './header-names.js';
import { removeConnectionOptions } from './hop-by-hop.js';
import { createProxyHeaderAdjuster, type ProxyHeaderOptions } from './proxy-headers.js';
import type { Environ } from './types.js';
import { createUrlPrefixAdjuster } from './url-prefix.js';

/** One stage: edits the environ in place; throws BadRequest for a malformed proxy header. */
export type Adjuster = (environ: Environ) => void;

/** What the pipeline needs to know of a request besides its environ (a ParsedRequest has both). */
export interface PipelineRequest {
  /** FieldFlag bits of the fields that arrived: a stage whose headers are all absent is skipped. */
  readonly fieldFlags: FieldFlag;
  /** The hop-by-hop fields, kept out of the environ; Connection names more of them. */
  readonly hopFields: Readonly<Record<string, string>> | null;
}

/** The composed pipeline: adjusts `environ`, the environ of `request`, in place. */
export type Pipeline = (environ: Environ, request: PipelineRequest) => void;

/** The Adjustments fields the pipeline reads. */
export interface PipelineOptions extends ProxyHeaderOptions {
  /** Normalised mount point: '' or '/a/b'. */
  readonly urlPrefix: string;
}

/**
 * Compose the stages for one server. The engine calls the result with each
 * request's environ before the app; a thrown HttpError is answered as such.
 * Throws InvalidOptionError at build time for unusable options.
 */
export function buildPipeline(options: PipelineOptions): Pipeline {
  const proxyHeaders = createProxyHeaderAdjuster(options);
  const urlPrefix = createUrlPrefixAdjuster(options.urlPrefix);
  return (environ, request) => {
    // The proxy stage acts only on proxy headers: without any it has nothing to do.
    if (proxyHeaders !== null && (request.fieldFlags & FieldFlag.Proxy) !== 0) proxyHeaders(environ);
    if (urlPrefix !== null) urlPrefix(environ);
    const connection = request.hopFields?.HTTP_CONNECTION;
    if (connection !== undefined) removeConnectionOptions(environ, connection);
  };
}
