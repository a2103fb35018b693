// Put garcon's parse and llhttp's on the same footing and say where they part:
// which requests each completed (method, target, body length) and how each ended.

import type { RequestSummary } from '../corpus/outcome.js';
import type { ReferenceOutcome, ReferenceRequest } from './reference.js';

export interface Framed {
  method: string;
  target: string;
  bodyLength: number;
}

export interface View {
  requests: Framed[];
  end: 'clean' | 'incomplete' | 'tunnel' | 'error';
  /** garcon's refusal ("400 Invalid header") or llhttp's error code. */
  reason: string;
}

export type Kind =
  | 'agree'
  /** garcon refused where llhttp went on. */
  | 'garcon-stricter'
  /** garcon accepted a request llhttp refused. */
  | 'garcon-laxer'
  /** They split the bytes into different messages (body length, request count): the smuggling class. */
  | 'framing'
  /** garcon still waits for the end of the head where llhttp already refused. */
  | 'garcon-waits'
  /** CONNECT or Upgrade: node:http hands the socket over, garcon serves it as a request. */
  | 'tunnel';

export interface Verdict {
  kind: Kind;
  /** Index of the first request where they part. */
  at: number;
}

/**
 * garcon's view, cut after the first request that ends the connection (no
 * keep-alive, or CL + TE): what follows is never served, so it is not compared.
 */
export function garconView(results: RequestSummary[]): { view: View; cut: number | null } {
  const requests: Framed[] = [];
  for (const [i, r] of results.entries()) {
    if (r.outcome === 'incomplete') {
      return { view: { requests, end: 'incomplete', reason: r.headersFinished ? 'waiting for the body' : 'waiting for the head' }, cut: null };
    }
    if (r.outcome !== 'ok') return { view: { requests, end: 'error', reason: `${r.outcome} ${r.detail}` }, cut: null };
    requests.push({ method: r.method, target: r.target, bodyLength: Buffer.byteLength(r.body, 'latin1') });
    if (!r.keepAlive || r.forceClose) return { view: { requests, end: 'clean', reason: '' }, cut: i + 1 };
  }
  return { view: { requests, end: 'clean', reason: '' }, cut: null };
}

/** llhttp's view, with node:http's Host rule applied and cut where garcon's is. */
export function referenceView(outcome: ReferenceOutcome, cut: number | null): View {
  const requests: Framed[] = [];
  for (const r of outcome.requests as ReferenceRequest[]) {
    if (cut !== null && requests.length === cut) return { requests, end: 'clean', reason: '' };
    if (r.missingHost) return { requests, end: 'error', reason: 'NODE_MISSING_HOST' };
    requests.push({ method: r.method, target: r.target, bodyLength: r.bodyLength });
  }
  if (cut !== null && requests.length === cut) return { requests, end: 'clean', reason: '' };
  return { requests, end: outcome.end, reason: outcome.code };
}

function sameRequest(a: Framed, b: Framed): boolean {
  return a.method === b.method && a.target === b.target && a.bodyLength === b.bodyLength;
}

export function compare(garcon: View, reference: View): Verdict {
  const common = Math.min(garcon.requests.length, reference.requests.length);
  for (let i = 0; i < common; i++) {
    if (!sameRequest(garcon.requests[i]!, reference.requests[i]!)) return { kind: 'framing', at: i };
  }
  const at = common;
  const g = garcon.requests.length;
  const r = reference.requests.length;
  if (reference.end === 'tunnel' && g >= r) return { kind: 'tunnel', at };
  if (g > r) return { kind: reference.end === 'error' ? 'garcon-laxer' : 'framing', at };
  if (r > g) {
    if (garcon.end === 'error') return { kind: 'garcon-stricter', at };
    return { kind: 'framing', at };
  }
  if (garcon.end === reference.end) return { kind: 'agree', at };
  if (garcon.end === 'error') return { kind: 'garcon-stricter', at };
  if (reference.end === 'error') {
    const waitsForHead = garcon.end === 'incomplete' && garcon.reason === 'waiting for the head';
    return { kind: waitsForHead ? 'garcon-waits' : 'garcon-laxer', at };
  }
  return { kind: 'framing', at };
}
