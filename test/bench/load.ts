// Drives HTTP load at a server with wrk, or with autocannon when wrk is not
// installed, and reduces the tool's report to requests/s and latency percentiles.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PINNING, onCpus } from './pinning.js';

/** One load run against one server. */
export interface LoadSpec {
  port: number;
  path: string;
  method: 'GET' | 'POST';
  connections: number;
  durationSec: number;
  /** Requests sent per write (1: no pipelining). */
  pipeline: number;
  /** Size of the request body (bytes of 'x'), 0 for none. */
  bodyBytes: number;
  /** Extra request headers. */
  headers: Record<string, string>;
}

export interface LoadResult {
  requestsPerSec: number;
  p50Ms: number;
  /** null where the tool's figure is unusable (see parseWrkReport). */
  p99Ms: number | null;
  requests: number;
  /** Connect/read/write/timeout errors and non-2xx/3xx responses together. */
  errors: number;
}

export type LoadTool = 'wrk' | 'autocannon';

/** wrk when it runs (or BENCH_TOOL=autocannon forces the fallback). */
export function pickLoadTool(forced: string | undefined): LoadTool {
  if (forced === 'autocannon') return 'autocannon';
  const probe = spawnSync('wrk', ['-v'], { stdio: 'ignore' });
  return probe.error === undefined ? 'wrk' : 'autocannon';
}

export function runLoad(tool: LoadTool, spec: LoadSpec): Promise<LoadResult> {
  return tool === 'wrk' ? runWrk(spec) : runAutocannon(spec);
}

function lua(text: string): string {
  return JSON.stringify(text); // a JSON string literal is a valid Lua string literal for ASCII text
}

/**
 * The wrk script for `spec`. Pipelining follows wrk's pipeline.lua: `init`
 * formats `pipeline` requests once and `request` returns them concatenated,
 * so each write carries the whole batch.
 */
export function wrkScript(spec: LoadSpec): string {
  const lines = [`wrk.method = ${lua(spec.method)}`, `wrk.path = ${lua(spec.path)}`];
  if (spec.bodyBytes > 0) {
    lines.push(`wrk.body = string.rep("x", ${spec.bodyBytes})`, 'wrk.headers["Content-Type"] = "application/octet-stream"');
  }
  for (const [name, value] of Object.entries(spec.headers)) lines.push(`wrk.headers[${lua(name)}] = ${lua(value)}`);
  if (spec.pipeline > 1) {
    lines.push(
      'local batch',
      'init = function(args)',
      '  local r = {}',
      `  for i = 1, ${spec.pipeline} do r[i] = wrk.format() end`,
      '  batch = table.concat(r)',
      'end',
      'request = function() return batch end',
    );
  }
  return `${lines.join('\n')}\n`;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function latencyMs(report: string, percentile: string): number {
  const match = new RegExp(`^\\s*${percentile}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(report);
  if (match === null) throw new Error(`wrk report has no ${percentile}% latency:\n${report}`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

/** Reduce wrk's `--latency` report (wrk 4.x text) to a LoadResult. */
export function parseWrkReport(report: string): LoadResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(report);
  const total = /^\s*(\d+) requests in /m.exec(report);
  if (rps === null || total === null) throw new Error(`unrecognised wrk report:\n${report}`);
  let errors = 0;
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(report);
  if (socket !== null) errors += socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(report);
  if (non2xx !== null) errors += Number(non2xx[1]);
  const p50Ms = latencyMs(report, '50');
  const p99Ms = latencyMs(report, '99');
  return {
    requestsPerSec: Number(rps[1]),
    p50Ms,
    // wrk 4.1 prints 0.00us as the 99th percentile of pipelined runs (its
    // latency histogram overflows): a figure below the median is not one.
    p99Ms: p99Ms < p50Ms ? null : p99Ms,
    requests: Number(total[1]),
    errors,
  };
}

function collect(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const [file, argv] = onCpus(PINNING.client, command, args);
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (out += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (err += text));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}: ${err}${out}`))));
  });
}

async function withTempFile<T>(name: string, content: string, use: (file: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'garcon-bench-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  try {
    return await use(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function runWrk(spec: LoadSpec): Promise<LoadResult> {
  return withTempFile('scenario.lua', wrkScript(spec), async (script) => {
    const report = await collect('wrk', [
      '-t1', `-c${spec.connections}`, `-d${spec.durationSec}s`, '--latency', '--timeout', '10s',
      '-s', script, `http://127.0.0.1:${spec.port}${spec.path}`,
    ]);
    return parseWrkReport(report);
  });
}

interface AutocannonJson {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}

function runAutocannon(spec: LoadSpec): Promise<LoadResult> {
  return withTempFile('body.bin', 'x'.repeat(spec.bodyBytes), async (bodyFile) => {
    const args = [
      require.resolve('autocannon/autocannon.js'), '--json',
      '-c', String(spec.connections), '-d', String(spec.durationSec), '-p', String(spec.pipeline), '-m', spec.method,
    ];
    if (spec.bodyBytes > 0) args.push('-i', bodyFile, '-H', 'Content-Type=application/octet-stream');
    for (const [name, value] of Object.entries(spec.headers)) args.push('-H', `${name}=${value}`);
    args.push(`http://127.0.0.1:${spec.port}${spec.path}`);
    const report = JSON.parse(await collect(process.execPath, args)) as AutocannonJson;
    return {
      requestsPerSec: report.requests.average,
      p50Ms: report.latency.p50,
      p99Ms: report.latency.p99,
      requests: report.requests.total,
      errors: report.errors + report.timeouts + report.non2xx,
    };
  });
}
