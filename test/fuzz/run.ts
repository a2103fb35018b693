// `npm run fuzz [-- --seconds N --seed N --no-save]`: the differential fuzzer
// against llhttp. Saves unexplained cases to test/corpus/found/ and exits 1 when
// there are any, or crashes, hangs or unbounded memory.

import * as path from 'node:path';
import { fuzz } from './fuzzer.js';

const root = path.resolve(__dirname, '..', '..', '..');

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isFinite(value)) throw new Error(`--${name} needs a number`);
  return value;
}

async function main(): Promise<void> {
  const seed = option('seed', Date.now() % 2 ** 31);
  const seconds = option('seconds', 60);
  const save = !process.argv.includes('--no-save');
  console.log(`fuzzing for ${seconds} s with seed ${seed} (replay with --seed ${seed})`);
  const report = await fuzz({
    seconds,
    maxCases: Number.POSITIVE_INFINITY,
    seed,
    foundDir: save ? path.join(root, 'test', 'corpus', 'found') : null,
    corpusDir: path.join(root, 'test', 'corpus', 'cases'),
    deadlineMs: 2000,
    maxRssGrowth: 200 * 2 ** 20,
    log: (line) => console.log(`  found: ${line}`),
  });
  console.log(`${report.cases} cases, ${report.agreements} agreements`);
  console.log(`documented disagreements: ${JSON.stringify(report.known)}`);
  console.log(`unexplained: ${report.unexplained.length}, crashes: ${report.crashes.length}, hangs: ${report.hangs.length}`);
  console.log(`RSS ${report.rssStartMb} MB at start, ${report.rssMaxMb} MB at most (${report.memoryBounded ? 'bounded' : 'UNBOUNDED'})`);
  for (const c of report.crashes) console.log(`  crash: ${c.signature}: ${c.detail}`);
  const failed = report.unexplained.length + report.crashes.length + report.hangs.length > 0 || !report.memoryBounded;
  process.exitCode = failed ? 1 : 0;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 2;
});
