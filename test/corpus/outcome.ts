// Run bytes through garcon's RequestParser the way the channel does (one parser
// per request, leftover bytes start the next) and summarise what came out, so
// the corpus test, the fuzzer and the socket checks compare like with like.

import { RequestParser } from '../../src/parser.js';
import type { CorpusLimits } from './format.js';

export interface RequestSummary {
  /** 'ok' for a complete valid request, the status for a refusal, 'incomplete' when the bytes ran out. */
  outcome: 'ok' | 'incomplete' | number;
  detail: string;
  method: string;
  target: string;
  path: string;
  query: string;
  version: string;
  headers: Record<string, string>;
  /** Body bytes as latin-1. */
  body: string;
  keepAlive: boolean;
  forceClose: boolean;
  /** The head was complete and valid (false while it is still arriving or when it was refused). */
  headersFinished: boolean;
}

function isWhitespaceOnly(bytes: Buffer[]): boolean {
  for (const piece of bytes) {
    for (const b of piece) if (b !== 0x0d && b !== 0x0a && b !== 0x20 && b !== 0x09) return false;
  }
  return true;
}

function summarise(parser: RequestParser): RequestSummary {
  const r = parser.request;
  const body = r.body === null ? '' : r.body.input().read().toString('latin1');
  r.close();
  return {
    outcome: r.error === null ? 'ok' : r.error.status,
    detail: r.error?.detail ?? '',
    method: r.method,
    target: r.target,
    path: r.path,
    query: r.query,
    version: r.version,
    headers: { ...r.headers },
    body,
    keepAlive: r.keepAlive,
    forceClose: r.forceClose,
    headersFinished: parser.headersFinished,
  };
}

function incomplete(parser: RequestParser): RequestSummary {
  return {
    outcome: 'incomplete', detail: '', method: '', target: '', path: '', query: '', version: '',
    headers: {}, body: '', keepAlive: false, forceClose: false, headersFinished: parser.headersFinished,
  };
}

/** Parse `pieces` (one read each) into request summaries, stopping at the first refusal. */
export function parsePieces(pieces: Buffer[], limits: CorpusLimits): RequestSummary[] {
  const parserLimits = { ...limits, inbufOverflow: 1 << 20 };
  const results: RequestSummary[] = [];
  let parser = new RequestParser(parserLimits);
  let fed: Buffer[] = [];
  for (const piece of pieces) {
    let offset = 0;
    while (offset < piece.length) {
      const rest = offset === 0 ? piece : piece.subarray(offset);
      const consumed = parser.received(rest);
      fed.push(rest.subarray(0, consumed));
      offset += consumed;
      if (!parser.completed) break;
      const summary = summarise(parser);
      results.push(summary);
      if (summary.outcome !== 'ok') return results;
      parser = new RequestParser(parserLimits);
      fed = [];
    }
  }
  if (!isWhitespaceOnly(fed)) {
    parser.request.close();
    results.push(incomplete(parser));
  }
  return results;
}

/** The bytes in one read. */
export function parseWhole(bytes: Buffer, limits: CorpusLimits): RequestSummary[] {
  return parsePieces([bytes], limits);
}

/** The bytes one at a time. */
export function parseBytewise(bytes: Buffer, limits: CorpusLimits): RequestSummary[] {
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) pieces.push(bytes.subarray(i, i + 1));
  return parsePieces(pieces, limits);
}

/** The bytes in two reads, split at `at`. */
export function parseSplit(bytes: Buffer, at: number, limits: CorpusLimits): RequestSummary[] {
  return parsePieces([bytes.subarray(0, at), bytes.subarray(at)], limits);
}

/** Statuses the server must send for these parse results: up to the first refusal or close. */
export function expectedStatuses(results: RequestSummary[]): number[] {
  const statuses: number[] = [];
  for (const r of results) {
    if (r.outcome === 'incomplete') break;
    statuses.push(r.outcome === 'ok' ? 200 : r.outcome);
    if (r.outcome !== 'ok' || !r.keepAlive || r.forceClose) break;
  }
  return statuses;
}
