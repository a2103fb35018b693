// Top self-time functions of a V8 CPU profile (`node --cpu-prof`), so a bench
// run with --profile can be read without a browser:
//
//   node profile-top.js FILE.cpuprofile [COUNT] [--only PATH-PART]
//
// `--only /src/` keeps garcon's own functions (their share stays relative to the whole profile).

import * as fs from 'node:fs';
import * as path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  /** `name (file:line)`, one row per function. */
  label: string;
  url: string;
  ms: number;
  percent: number;
}

function label(frame: CallFrame): string {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
  if (frame.url === '') return name;
  return `${name} (${path.basename(frame.url)}:${frame.lineNumber + 1})`;
}

/** Self time per function: each sample's time delta charged to the node it hit. */
export function selfTimes(profile: CpuProfile): SelfTime[] {
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const totals = new Map<string, { url: string; us: number }>();
  let all = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    // The delta before sample i+1 is the time spent in sample i (V8's convention, as DevTools reads it).
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (node === undefined || us <= 0) continue;
    all += us;
    const key = label(node.callFrame);
    const entry = totals.get(key) ?? { url: node.callFrame.url, us: 0 };
    entry.us += us;
    totals.set(key, entry);
  }
  return [...totals.entries()]
    .map(([key, { url, us }]) => ({ label: key, url, ms: us / 1000, percent: all === 0 ? 0 : (100 * us) / all }))
    .sort((a, b) => b.ms - a.ms);
}

function main(): void {
  const args = process.argv.slice(2);
  const onlyAt = args.indexOf('--only');
  const only = onlyAt === -1 ? null : args.splice(onlyAt, 2)[1] ?? null;
  const [file, countText] = args;
  if (file === undefined) {
    console.error('usage: node profile-top.js FILE.cpuprofile [COUNT] [--only PATH-PART]');
    process.exitCode = 2;
    return;
  }
  const count = countText === undefined ? 25 : Number(countText);
  const rows = selfTimes(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile)
    .filter((row) => only === null || row.url.includes(only))
    .slice(0, count);
  for (const row of rows) console.log(`${row.percent.toFixed(1).padStart(5)}%  ${row.ms.toFixed(1).padStart(9)} ms  ${row.label}`);
}

if (require.main === module) main();
