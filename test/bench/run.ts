// `npm run bench`: garcon against node:http, each in its own process on
// 127.0.0.1, scenario by scenario, alternating which server goes first each
// round; prints a Markdown table of medians and writes every sample as JSON.
// The hello scenarios also load a raw socket server each round (raw-server.ts),
// reported below the table as the ceiling the ratio is bounded by.
//
// Settings (environment, or the flags in brackets):
//   BENCH_ROUNDS (--rounds)        rounds per scenario, default 5
//   BENCH_DURATION (--duration)    seconds of load per run, default 5
//   BENCH_CONNECTIONS              connections for the load scenarios, default 50
//   BENCH_WARMUP                   seconds of load per server and scenario before round 1, default 1
//   BENCH_FILE_MIB                 size of the big file, default 1024 (1 GiB)
//   BENCH_FILE_DOWNLOADS           sequential downloads per server and round, default 2
//   BENCH_IDLE_CONNECTIONS         connections of the idle scenario, default 10000
//   BENCH_IDLE_HOLD                seconds the idle connections are held before the judged RSS reading, default 40
//   BENCH_ONLY (--only)            comma-separated scenario ids (hello,pipelined,close,mib,echo,file,idle)
//   BENCH_TOOL                     'autocannon' forces the wrk fallback
//   BENCH_PROFILE (--profile DIR)  write a --cpu-prof profile of the garcon server into DIR
//   --out FILE                     the JSON results, default $TMPDIR/garcon-bench.json

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { download } from './download.js';
import type { IdleReport } from './idle-client.js';
import { pickLoadTool, runLoad, type LoadTool } from './load.js';
import { formatTable, median, medianSample, type Sample, type ScenarioResult } from './report.js';
import { ROUTES } from './routes.js';
import { SCENARIOS, type FileScenario, type IdleScenario, type LoadScenario } from './scenarios.js';
import { SERVER_NAMES, ServerProcess, type ServerName } from './server-process.js';
import { PINNING } from './pinning.js';

const MIB = 1024 * 1024;
const DOWNLOAD_TIMEOUT_MS = 120_000;
const IDLE_OPEN_TIMEOUT_MS = 120_000;
/** Pause before reading RSS, so that allocation bursts of the previous step have settled. */
const SETTLE_MS = 1000;

interface Config {
  rounds: number;
  durationSec: number;
  connections: number;
  warmupSec: number;
  fileMiB: number;
  fileDownloads: number;
  idleConnections: number;
  idleHoldSec: number;
  only: Set<string> | null;
  profileDir: string | null;
  out: string;
}

function flag(name: string): string | undefined {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i]!.startsWith(`--${name}=`)) return args[i]!.slice(name.length + 3);
  }
  return undefined;
}

function positive(name: string, text: string | undefined, fallback: number, allowZero = false): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) throw new Error(`${name} must be a positive number, got "${text}"`);
  return value;
}

function readConfig(): Config {
  const env = process.env;
  const only = flag('only') ?? env.BENCH_ONLY;
  const known = new Set(SCENARIOS.map((s) => s.id));
  const selected = only ? new Set(only.split(',').map((id) => id.trim()).filter((id) => id !== '')) : null;
  for (const id of selected ?? []) if (!known.has(id)) throw new Error(`unknown scenario "${id}"; known: ${[...known].join(', ')}`);
  const profileDir = flag('profile') ?? env.BENCH_PROFILE ?? null;
  return {
    rounds: Math.round(positive('rounds', flag('rounds') ?? env.BENCH_ROUNDS, 5)),
    durationSec: Math.round(positive('duration', flag('duration') ?? env.BENCH_DURATION, 5)),
    connections: Math.round(positive('BENCH_CONNECTIONS', env.BENCH_CONNECTIONS, 50)),
    warmupSec: Math.round(positive('BENCH_WARMUP', env.BENCH_WARMUP, 1, true)),
    fileMiB: positive('BENCH_FILE_MIB', env.BENCH_FILE_MIB, 1024),
    fileDownloads: Math.round(positive('BENCH_FILE_DOWNLOADS', env.BENCH_FILE_DOWNLOADS, 2)),
    idleConnections: Math.round(positive('BENCH_IDLE_CONNECTIONS', env.BENCH_IDLE_CONNECTIONS, 10_000)),
    idleHoldSec: positive('BENCH_IDLE_HOLD', env.BENCH_IDLE_HOLD, 40),
    only: selected,
    profileDir: profileDir === null ? null : path.resolve(profileDir),
    out: path.resolve(flag('out') ?? path.join(os.tmpdir(), 'garcon-bench.json')),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Alternate who goes first, so neither server always runs on a cooler (or hotter) machine. */
function order(round: number): ServerName[] {
  return round % 2 === 0 ? [...SERVER_NAMES] : [...SERVER_NAMES].reverse();
}

function emptySamples(): Record<ServerName, Sample[]> {
  return { garcon: [], 'node:http': [] };
}

function ratioResult(
  scenario: LoadScenario | FileScenario, unit: ScenarioResult['unit'], samples: Record<ServerName, Sample[]>,
): ScenarioResult {
  const med = { garcon: medianSample(samples.garcon), 'node:http': medianSample(samples['node:http']) };
  const ratio = med.garcon.value / med['node:http'].value;
  return {
    id: scenario.id, title: scenario.title, unit, target: `>= ${scenario.minRatio}x`, samples, median: med, ratio,
    pass: ratio >= scenario.minRatio && med.garcon.errors === 0, notes: [],
  };
}

async function measureLoad(
  scenario: LoadScenario, servers: Record<ServerName, ServerProcess>, raw: ServerProcess | null, tool: LoadTool, config: Config,
): Promise<ScenarioResult> {
  const run = (server: ServerProcess, durationSec: number) =>
    runLoad(tool, { ...scenario.load, port: server.port, durationSec, connections: config.connections });
  const measure = async (server: ServerProcess, round: number): Promise<Sample> => {
    const cpuBefore = server.cpuMicros();
    const r = await run(server, config.durationSec);
    const cpuUsPerRequest = r.requests > 0 ? (server.cpuMicros() - cpuBefore) / r.requests : null;
    console.error(`  ${scenario.id} round ${round + 1} ${server.name}: ${Math.round(r.requestsPerSec)} req/s` +
      `${r.errors > 0 ? `, ${r.errors} errors` : ''}`);
    return { value: r.requestsPerSec, p50Ms: r.p50Ms, p99Ms: r.p99Ms, errors: r.errors, cpuUsPerRequest };
  };
  const ceiling = scenario.ceiling === true ? raw : null;
  if (config.warmupSec > 0) {
    for (const name of SERVER_NAMES) await run(servers[name], config.warmupSec);
    if (ceiling !== null) await run(ceiling, config.warmupSec);
  }
  const samples = emptySamples();
  const ceilingSamples: Sample[] = [];
  for (let round = 0; round < config.rounds; round++) {
    for (const name of order(round)) samples[name].push(await measure(servers[name], round));
    if (ceiling !== null) ceilingSamples.push(await measure(ceiling, round));
  }
  const result = ratioResult(scenario, 'req/s', samples);
  if (ceilingSamples.length > 0) result.notes.push(ceilingNote(scenario, result, medianSample(ceilingSamples)));
  return result;
}

/** How close each server came to the raw socket server, and the ratio that ceiling allows. */
function ceilingNote(scenario: LoadScenario, result: ScenarioResult, raw: Sample): string {
  const percent = (name: ServerName) => `${Math.round((100 * result.median[name].value) / raw.value)} %`;
  const cpu = raw.cpuUsPerRequest === null ? '' : ` (${raw.cpuUsPerRequest.toFixed(1)} µs CPU / request)`;
  return `${scenario.title}: a raw net server writing a canned response (raw-server.ts) did ${Math.round(raw.value).toLocaleString('en-US')} req/s` +
    `${cpu}; garcon reached ${percent('garcon')} of it, node:http ${percent('node:http')}; ` +
    `no server could read above ${(raw.value / result.median['node:http'].value).toFixed(2)}x here`;
}

async function measureFile(scenario: FileScenario, servers: Record<ServerName, ServerProcess>, config: Config): Promise<ScenarioResult> {
  const samples = emptySamples();
  for (let round = 0; round < config.rounds; round++) {
    for (const name of order(round)) {
      const speeds: number[] = [];
      for (let i = 0; i < config.fileDownloads; i++) {
        const d = await download(servers[name].port, ROUTES.file, DOWNLOAD_TIMEOUT_MS);
        speeds.push(d.bodyBytes / MIB / (d.ms / 1000));
      }
      samples[name].push({ value: median(speeds), p50Ms: null, p99Ms: null, errors: 0, cpuUsPerRequest: null });
      console.error(`  file round ${round + 1} ${name}: ${median(speeds).toFixed(0)} MiB/s`);
    }
  }
  return ratioResult(scenario, 'MiB/s', samples);
}

/** Open the idle connections from a child process; resolves with its report and a way to release them. */
async function openIdle(port: number, count: number): Promise<{ report: IdleReport; release: () => Promise<void> }> {
  const child = spawn(process.execPath, [path.join(__dirname, 'idle-client.js'), String(port), String(count)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const release = async () => {
    child.stdin!.end();
    await exited;
  };
  const report = await new Promise<IdleReport>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`idle client did not finish within ${IDLE_OPEN_TIMEOUT_MS} ms`)), IDLE_OPEN_TIMEOUT_MS);
    readline.createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as IdleReport);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`idle client exited with code ${code}`));
    });
  }).catch(async (err: unknown) => {
    child.kill('SIGKILL');
    await exited;
    throw err;
  });
  return { report, release };
}

/**
 * RSS growth of a fresh server process while it holds the idle connections,
 * read twice: just after they opened (the peak: V8's young generation has
 * grown to its maximum while 10,000 sockets survived its collections) and
 * after they have been held idle for idleHoldSec (V8's memory reducer runs
 * some 10-25 s into an idle period and gives the transient heap back). The
 * held reading is what an idle connection keeps costing, and is the one
 * judged; both are reported. The server is warmed up first, so that JIT code
 * and a steady heap are in the baseline.
 */
async function measureIdle(scenario: IdleScenario, tool: LoadTool, config: Config): Promise<ScenarioResult> {
  const samples = emptySamples();
  const notes: string[] = [];
  for (const name of SERVER_NAMES) {
    const server = await ServerProcess.start(name, { file: null, cpuProfileDir: null });
    try {
      const warmup = SCENARIOS.find((s): s is LoadScenario => s.id === 'hello')!;
      await runLoad(tool, { ...warmup.load, port: server.port, durationSec: 1, connections: config.connections });
      await sleep(SETTLE_MS);
      const before = server.rss();
      const { report, release } = await openIdle(server.port, config.idleConnections);
      await sleep(SETTLE_MS);
      const opening = server.rss();
      await sleep(config.idleHoldSec * 1000);
      const held = server.rss();
      await release();
      samples[name].push({ value: (held - before) / MIB, p50Ms: null, p99Ms: null, errors: report.failed, cpuUsPerRequest: null });
      notes.push(`${name}: ${report.opened} connections opened (${report.failed} failed), RSS ${(before / MIB).toFixed(1)} MiB before, ` +
        `+${((opening - before) / MIB).toFixed(1)} MiB just after opening, +${((held - before) / MIB).toFixed(1)} MiB ` +
        `after ${config.idleHoldSec} s held idle (${((held - before) / Math.max(1, report.opened)).toFixed(0)} bytes each)`);
      console.error(`  idle ${notes[notes.length - 1]}`);
    } finally {
      await server.stop();
    }
  }
  const med = { garcon: medianSample(samples.garcon), 'node:http': medianSample(samples['node:http']) };
  return {
    id: scenario.id, title: `${config.idleConnections} ${scenario.title}, held ${config.idleHoldSec} s`, unit: 'MiB RSS growth',
    target: `< ${scenario.maxGrowthMiB} MiB`, samples, median: med, ratio: null,
    pass: med.garcon.value < scenario.maxGrowthMiB && med.garcon.errors === 0, notes,
  };
}

/** A sparse file: created instantly, read from the page cache as zeros. */
function createBigFile(mib: number): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'garcon-bench-file-')), 'big.bin');
  const fd = fs.openSync(file, 'w');
  try {
    fs.ftruncateSync(fd, Math.round(mib * MIB));
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

function machine(tool: LoadTool): Record<string, string | number> {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'latin1'));
  return {
    nproc: os.availableParallelism(), cpu: cpu?.[1] ?? os.cpus()[0]?.model ?? 'unknown', node: process.version, loadTool: tool,
    pinning: PINNING.server === null ? 'none' : `servers on CPU ${PINNING.server}, load on CPU ${PINNING.client}`,
  };
}

async function main(): Promise<void> {
  const config = readConfig();
  const tool = pickLoadTool(process.env.BENCH_TOOL);
  const selected = SCENARIOS.filter((s) => config.only === null || config.only.has(s.id));
  const needsServers = selected.some((s) => s.kind !== 'idle');
  const file = selected.some((s) => s.kind === 'file') ? createBigFile(config.fileMiB) : null;
  if (config.profileDir !== null) fs.mkdirSync(config.profileDir, { recursive: true });
  console.error(`load tool: ${tool}; ${config.rounds} rounds of ${config.durationSec}s, ${config.connections} connections`);
  const results: ScenarioResult[] = [];
  try {
    if (needsServers) {
      const garcon = await ServerProcess.start('garcon', { file, cpuProfileDir: config.profileDir });
      const node = await ServerProcess.start('node:http', { file, cpuProfileDir: null });
      const needsRaw = selected.some((s) => s.kind === 'load' && s.ceiling === true);
      const raw = needsRaw ? await ServerProcess.start('raw net', { file: null, cpuProfileDir: null }) : null;
      const servers = { garcon, 'node:http': node };
      try {
        for (const scenario of selected) {
          if (scenario.kind === 'load') results.push(await measureLoad(scenario, servers, raw, tool, config));
          else if (scenario.kind === 'file') results.push(await measureFile(scenario, servers, config));
        }
      } finally {
        await Promise.all([garcon.stop(), node.stop(), raw?.stop()]);
      }
    }
    for (const scenario of selected) {
      if (scenario.kind === 'idle') results.push(await measureIdle(scenario, tool, config));
    }
  } finally {
    if (file !== null) fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
  const table = formatTable(results);
  console.log(`CPU pinning: ${machine(tool).pinning} (BENCH_PIN=0 to turn off)\n`);
  console.log(table);
  for (const result of results) for (const note of result.notes) console.log(`- ${note}`);
  const settings = { ...config, only: config.only === null ? null : [...config.only] };
  fs.writeFileSync(config.out, `${JSON.stringify({ machine: machine(tool), settings, results }, null, 2)}\n`);
  console.log(`\nresults: ${config.out}`);
  if (config.profileDir !== null) console.log(`garcon CPU profile: ${config.profileDir}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
