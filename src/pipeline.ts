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
//   4. hop-by-hop stripping   Connection, Keep-Alive, TE, ... and what
//                             Connection names                       (hop-by-hop.ts)
//
// Step 1 runs first so that it judges the proxy headers exactly as they arrived
// (a `Connection: X-Forwarded-For` must not make one vanish before the trust
// decision); step 4 runs last so that the app never sees a hop-by-hop header.

import { FieldFlag } from './header-names.js';
import { stripHopByHopHeaders } from './hop-by-hop.js';
import { createProxyHeaderAdjuster, type ProxyHeaderOptions } from './proxy-headers.js';
import type { Environ } from './types.js';
import { createUrlPrefixAdjuster } from './url-prefix.js';

/** One stage: edits the environ in place; throws BadRequest for a malformed proxy header. */
export type Adjuster = (environ: Environ) => void;

/**
 * The composed pipeline. `fields` holds the FieldFlag bits of the headers the
 * request arrived with (ParsedRequest.fieldFlags): a stage whose headers are
 * all absent has nothing to do and is skipped. Without it every stage runs.
 */
export type Pipeline = (environ: Environ, fields?: FieldFlag) => void;

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
  return (environ, fields = FieldFlag.All) => {
    // Each stage acts only on the headers its flag stands for (proxy headers,
    // hop-by-hop fields), so skipping it when they are absent changes nothing.
    if (proxyHeaders !== null && (fields & FieldFlag.Proxy) !== 0) proxyHeaders(environ);
    if (urlPrefix !== null) urlPrefix(environ);
    if ((fields & FieldFlag.HopByHop) !== 0) stripHopByHopHeaders(environ);
  };
}
