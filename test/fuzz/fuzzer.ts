// The differential fuzz loop: mutate corpus requests, parse each mutant with
// garcon (in process, and over a socket to a garcon server) and with llhttp
// (node:http on loopback), and report every disagreement that is not one of the
// documented, deliberate ones (DISAGREEMENTS.md), plus crashes, hangs and
// memory growth.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { App } from '../../src/types.js';
import { DEFAULT_LIMITS, encodeBytes, loadCorpus, type CorpusLimits } from '../corpus/format.js';
import { expectedStatuses, parseWhole, type RequestSummary } from '../corpus/outcome.js';
import { send, startServer } from '../helpers/http.js';
import { compare, garconView, referenceView, type Verdict, type View } from './compare.js';
import { classify } from './known.js';
import { mutate } from './mutate.js';
import { Random } from './random.js';
import { ReferenceServer } from './reference.js';

export interface FuzzOptions {
  seconds: number;
  /** Stop after this many cases even if time remains (for a deterministic short run). */
  maxCases: number;
  seed: number;
  /** Where unexplained cases are saved (null: do not save). */
  foundDir: string | null;
  corpusDir: string;
  /** A parse slower than this, or a server that has not closed by then, is a hang. */
  deadlineMs: number;
  /** RSS growth (bytes) over the run's first sample that counts as unbounded. */
  maxRssGrowth: number;
  log: (line: string) => void;
}

export interface Finding {
  signature: string;
  detail: string;
  bytes: Buffer;
  mutation: string;
}

export interface FuzzReport {
  cases: number;
  agreements: number;
  /** Documented disagreements seen, by class id. */
  known: Record<string, number>;
  /** Disagreements no documented class explains (one per signature). */
  unexplained: Finding[];
  crashes: Finding[];
  hangs: Finding[];
  rssStartMb: number;
  rssMaxMb: number;
  memoryBounded: boolean;
}

/** Corpus requests above this size are not used as seeds (they test limits, not framing). */
const MAX_SEED_BYTES = 8192;
const LIMITS: CorpusLimits = DEFAULT_LIMITS;

function describeView(view: View): string {
  const requests = view.requests.map((r) => `${r.method} ${JSON.stringify(r.target)} body=${r.bodyLength}`).join(' | ');
  return `[${requests}] then ${view.end}${view.reason ? ` (${view.reason})` : ''}`;
}

function saveFinding(dir: string, finding: Finding, results: RequestSummary[], note: string): void {
  const hash = createHash('sha256').update(finding.bytes).digest('hex').slice(0, 12);
  const slug = finding.signature.replace(/[^a-zA-Z0-9]+/g, '-').replace(/^-|-$/g, '').toLowerCase().slice(0, 60);
  const expect = results.map((r) => String(r.outcome)).join(' ') || 'incomplete';
  const text =
    `# expect: ${expect}\n# rule: fuzzer finding, to be judged (${finding.signature})\n` +
    `# note: mutation: ${finding.mutation}\n# note: ${note.replace(/\n/g, ' ')}\n\n${encodeBytes(finding.bytes)}\n`;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${slug}-${hash}.http`), text, 'latin1');
}

export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
  const seeds = loadCorpus(options.corpusDir)
    .filter((c) => c.bytes.length <= MAX_SEED_BYTES && c.limits.maxRequestHeaderSize === LIMITS.maxRequestHeaderSize && c.limits.maxRequestBodySize === LIMITS.maxRequestBodySize)
    .map((c) => c.bytes);
  const random = new Random(options.seed);
  const reference = new ReferenceServer(LIMITS.maxRequestHeaderSize);
  await reference.listen();
  const lengthApp: App = (environ, startResponse) => {
    const body = environ['wsgi.input'].read();
    const out = Buffer.from(String(body.length));
    startResponse('200 OK', [['Content-Length', String(out.length)]]);
    return [out];
  };
  const garcon = await startServer(lengthApp, { ...LIMITS });

  const report: FuzzReport = { cases: 0, agreements: 0, known: {}, unexplained: [], crashes: [], hangs: [], rssStartMb: 0, rssMaxMb: 0, memoryBounded: true };
  const signatures = new Set<string>();
  const rssStart = process.memoryUsage().rss;
  let rssMax = rssStart;
  const stopAt = Date.now() + options.seconds * 1000;

  const record = (list: Finding[], finding: Finding, results: RequestSummary[], note: string) => {
    if (signatures.has(finding.signature)) return;
    signatures.add(finding.signature);
    list.push(finding);
    options.log(`${finding.signature}: ${finding.detail}`);
    if (options.foundDir !== null) saveFinding(options.foundDir, finding, results, note);
  };

  try {
    while (Date.now() < stopAt && report.cases < options.maxCases) {
      const mutation = mutate(random.pick(seeds), random);
      const bytes = mutation.bytes;
      report.cases++;

      let results: RequestSummary[];
      const started = performance.now();
      try {
        results = parseWhole(bytes, LIMITS);
      } catch (err) {
        record(report.crashes, { signature: `crash ${(err as Error).message}`, detail: String((err as Error).stack), bytes, mutation: mutation.name }, [], 'the parser threw');
        continue;
      }
      const elapsed = performance.now() - started;
      if (elapsed > options.deadlineMs) {
        record(report.hangs, { signature: 'slow parse', detail: `${elapsed.toFixed(0)} ms`, bytes, mutation: mutation.name }, results, `parse took ${elapsed.toFixed(0)} ms`);
      }

      // The server must answer exactly what the parse predicts and close (we half-close).
      const exchange = await send(garcon.port, bytes, { end: true, timeout: options.deadlineMs });
      // 100 Continue is an interim answer to a head the server accepted, not a response of its own.
      const statuses = exchange.responses.filter((r) => r.status !== 100).map((r) => r.status);
      const predicted = expectedStatuses(results);
      if (!exchange.closed || statuses.join() !== predicted.join()) {
        const detail = `server sent [${statuses.join()}] (closed: ${exchange.closed}), the parse predicts [${predicted.join()}]`;
        record(report.hangs, { signature: `server ${exchange.closed ? 'mismatch' : 'hang'}`, detail, bytes, mutation: mutation.name }, results, detail);
      }

      const outcome = await reference.probe(bytes, options.deadlineMs);
      if (outcome === null) continue; // llhttp's side timed out: not garcon's problem
      const { view: mine, cut } = garconView(results);
      const theirs = referenceView(outcome, cut);
      const verdict: Verdict = compare(mine, theirs);
      if (verdict.kind === 'agree') {
        report.agreements++;
      } else {
        const known = classify(verdict, mine, theirs, bytes);
        if (known !== null) {
          report.known[known] = (report.known[known] ?? 0) + 1;
        } else {
          const signature = `${verdict.kind} garcon:${mine.reason.toLowerCase().replace(/"[^"]*"|\d{4,}/g, '_')} llhttp:${theirs.reason}`;
          const note = `garcon ${describeView(mine)}; llhttp ${describeView(theirs)}`;
          record(report.unexplained, { signature, detail: note, bytes, mutation: mutation.name }, results, note);
        }
      }

      if (report.cases % 200 === 0) {
        const rss = process.memoryUsage().rss;
        rssMax = Math.max(rssMax, rss);
      }
    }
  } finally {
    await reference.close();
    await garcon.close();
  }
  const errors = garcon.logger.messages('error');
  if (errors.length > 0) {
    report.crashes.push({ signature: 'server logged errors', detail: errors.slice(0, 5).join(' / '), bytes: Buffer.alloc(0), mutation: '' });
  }
  report.rssStartMb = Math.round(rssStart / 2 ** 20);
  report.rssMaxMb = Math.round(rssMax / 2 ** 20);
  report.memoryBounded = rssMax - rssStart <= options.maxRssGrowth;
  return report;
}
