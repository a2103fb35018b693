// Every request file in test/corpus/cases: parsed in one read, one byte per read
// and split in two at every position (all must agree with the file's stated
// outcome), then sent over a real socket (statuses as stated, nothing smuggled,
// the server keeps serving).

import { expect } from 'chai';
import * as path from 'node:path';
import { app as echo } from '../../fixtures/echo.js';
import { get, send, startServer, type Running } from '../helpers/http.js';
import { loadCorpus, type CorpusCase, type CorpusLimits } from './format.js';
import { expectedStatuses, parseBytewise, parseSplit, parseWhole, type RequestSummary } from './outcome.js';

const root = path.resolve(__dirname, '..', '..', '..');
const corpus = loadCorpus(path.join(root, 'test', 'corpus', 'cases'));
/** Above this size a file is split at a sample of positions, not at every one. */
const SPLIT_EVERY_POSITION_UP_TO = 4096;

function splitPositions(length: number): number[] {
  if (length <= SPLIT_EVERY_POSITION_UP_TO) return Array.from({ length: length - 1 }, (_, i) => i + 1);
  const step = Math.ceil(length / 97);
  const positions = new Set<number>([1, 2, 3, length - 3, length - 2, length - 1]);
  for (let at = step; at < length; at += step) positions.add(at);
  return [...positions].filter((at) => at > 0 && at < length);
}

function checkExpectations(c: CorpusCase, results: RequestSummary[]): void {
  const where = `${c.name} (${c.rule})`;
  expect(results.map((r) => r.outcome), where).to.deep.equal(c.expect);
  const last = results[results.length - 1]!;
  if (c.detail !== null) expect(last.detail, where).to.contain(c.detail);
  const first = results[0]!;
  const facts: Record<string, string> = {
    method: first.method,
    target: first.target,
    path: first.path,
    query: first.query,
    version: first.version,
    body: first.body,
    'keep-alive': first.keepAlive ? 'yes' : 'no',
    close: first.forceClose ? 'yes' : 'no',
  };
  for (const [key, value] of c.first) expect(facts[key], `${where}: ${key}`).to.equal(value);
  for (const [key, value] of c.headers) {
    if (value === null) expect(first.headers, `${where}: ${key}`).to.not.have.property(key);
    else expect(first.headers[key], `${where}: ${key}`).to.equal(value);
  }
}

describe('request corpus', () => {
  it('holds at least 150 cases, valid and invalid', () => {
    expect(corpus.length).to.be.at.least(150);
    expect(corpus.filter((c) => c.expect[0] === 'ok').length).to.be.at.least(40);
    expect(corpus.filter((c) => typeof c.expect[0] === 'number').length).to.be.at.least(100);
  });

  describe('through the parser', () => {
    for (const c of corpus) {
      it(`${c.name}: ${c.expect.join(' ')} in one read, byte by byte, and split anywhere`, () => {
        const whole = parseWhole(c.bytes, c.limits);
        checkExpectations(c, whole);
        expect(parseBytewise(c.bytes, c.limits), `${c.name} byte by byte`).to.deep.equal(whole);
        for (const at of splitPositions(c.bytes.length)) {
          expect(parseSplit(c.bytes, at, c.limits), `${c.name} split at ${at}`).to.deep.equal(whole);
        }
      });
    }
  });

  describe('over a socket', () => {
    const servers = new Map<string, Running>();
    let called = 0;
    async function serverFor(limits: CorpusLimits): Promise<Running> {
      const key = `${limits.maxRequestHeaderSize}/${limits.maxRequestHeaderFields}/${limits.maxRequestBodySize}`;
      let running = servers.get(key);
      if (running === undefined) {
        running = await startServer((environ, startResponse) => {
          called++;
          return echo(environ, startResponse);
        }, { ...limits });
        servers.set(key, running);
      }
      return running;
    }
    after(async () => {
      for (const running of servers.values()) await running.close();
    });

    for (const c of corpus) {
      it(`${c.name}: the statuses the parser predicts, then the server still serves`, async () => {
        const results = parseWhole(c.bytes, c.limits);
        const statuses = expectedStatuses(results);
        const srv = await serverFor(c.limits);
        const calledBefore = called;
        const ex = await send(srv.port, c.bytes, { end: true, timeout: 5000 });
        // Interim responses (100 Continue) come before a final one; the parser predicts the finals.
        const finals = ex.responses.filter((r) => r.status >= 200);
        expect(finals.map((r) => r.status), `${c.name}: ${ex.raw.toString('latin1').slice(0, 400)}`).to.deep.equal(statuses);
        expect(ex.closed, `${c.name}: the server closed the connection`).to.equal(true);
        expect(called - calledBefore, `${c.name}: app calls`).to.equal(statuses.filter((s) => s === 200).length);
        const first = results[0]!;
        if (first.outcome === 'ok') {
          const seen = JSON.parse(finals[0]!.body.toString('utf8')) as Record<string, unknown>;
          expect(seen.REQUEST_METHOD).to.equal(first.method);
          expect(seen.body_length).to.equal(Buffer.byteLength(first.body, 'latin1'));
        }
        const last = finals[finals.length - 1];
        if (last !== undefined && last.status !== 200) expect(last.headers.connection).to.equal('close');
        const ok = await send(srv.port, get('/still-serving'), { responses: 1 });
        expect(ok.responses[0]?.status).to.equal(200);
      });
    }
  });
});
