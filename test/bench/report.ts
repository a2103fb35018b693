// Reducing rounds to medians, judging them against the targets, and printing
// the result table (Markdown, so a run can be pasted into the README as is).

import type { ServerName } from './server-process.js';

/** One measurement of one server in one round. */
export interface Sample {
  /** requests/s, MiB/s or MiB of RSS growth, depending on the scenario. */
  value: number;
  p50Ms: number | null;
  p99Ms: number | null;
  errors: number;
  /** Server CPU time (user + system) per request, in microseconds; null where not measured. */
  cpuUsPerRequest: number | null;
}

export interface ScenarioResult {
  id: string;
  title: string;
  unit: 'req/s' | 'MiB/s' | 'MiB RSS growth';
  /** e.g. ">= 1.5x" or "< 30 MiB". */
  target: string;
  samples: Record<ServerName, Sample[]>;
  median: Record<ServerName, Sample>;
  /** garcon / node:http of the medians; null where the target is absolute. */
  ratio: number | null;
  pass: boolean;
  /** Extra facts (e.g. connections opened, bytes per connection). */
  notes: string[];
}

export function median(values: number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianOrNull(values: (number | null)[]): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length === 0 ? null : median(present);
}

/** The median of each field across rounds; errors are summed so that one bad round shows. */
export function medianSample(samples: Sample[]): Sample {
  return {
    value: median(samples.map((s) => s.value)),
    p50Ms: medianOrNull(samples.map((s) => s.p50Ms)),
    p99Ms: medianOrNull(samples.map((s) => s.p99Ms)),
    errors: samples.reduce((sum, s) => sum + s.errors, 0),
    cpuUsPerRequest: medianOrNull(samples.map((s) => s.cpuUsPerRequest)),
  };
}

function formatValue(value: number, unit: ScenarioResult['unit']): string {
  if (unit === 'req/s') return `${Math.round(value).toLocaleString('en-US')} req/s`;
  return `${value.toFixed(1)} ${unit}`;
}

function formatMs(ms: number | null): string {
  return ms === null ? '-' : `${ms.toFixed(2)} ms`;
}

/** One row per scenario and server; ratio, target and verdict on the garcon row. */
export function formatTable(results: ScenarioResult[]): string {
  const rows = [
    '| scenario | server | result | p50 | p99 | server CPU / request | garcon / node:http | target | pass |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const result of results) {
    for (const server of ['garcon', 'node:http'] as const) {
      const m = result.median[server];
      const errors = m.errors > 0 ? ` (${m.errors} errors)` : '';
      const garconRow = server === 'garcon';
      const ratio = garconRow && result.ratio !== null ? `${result.ratio.toFixed(2)}x` : '';
      rows.push(
        `| ${garconRow ? result.title : ''} | ${server} | ${formatValue(m.value, result.unit)}${errors} | ${formatMs(m.p50Ms)} | ` +
        `${formatMs(m.p99Ms)} | ${m.cpuUsPerRequest === null ? '-' : `${m.cpuUsPerRequest.toFixed(1)} µs`} | ${ratio} | ${garconRow ? result.target : ''} | ${garconRow ? (result.pass ? 'pass' : 'FAIL') : ''} |`,
      );
    }
  }
  return rows.join('\n');
}
