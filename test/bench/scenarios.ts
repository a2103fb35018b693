// The scenarios of issue 5's target table, as data: what load to apply and
// what garcon must reach relative to node:http (or absolutely, for memory).

import type { LoadSpec } from './load.js';
import { ROUTES } from './routes.js';

/** A wrk/autocannon run; the result is requests/s and the target a ratio to node:http. */
export interface LoadScenario {
  kind: 'load';
  id: string;
  title: string;
  /** garcon requests/s divided by node:http's must be at least this. */
  minRatio: number;
  load: Omit<LoadSpec, 'port' | 'durationSec' | 'connections'>;
  /** Also load the raw socket server (raw-server.ts) each round: the most any server could do here. */
  ceiling?: boolean;
}

/** Sequential downloads of one big file; the result is MiB/s. */
export interface FileScenario {
  kind: 'file';
  id: string;
  title: string;
  minRatio: number;
}

/** Many idle keep-alive connections; the result is the server's RSS growth. */
export interface IdleScenario {
  kind: 'idle';
  id: string;
  title: string;
  /** garcon's RSS growth must stay below this many MiB. */
  maxGrowthMiB: number;
}

export type Scenario = LoadScenario | FileScenario | IdleScenario;

const get = (path: string): LoadScenario['load'] => ({ path, method: 'GET', pipeline: 1, bodyBytes: 0, headers: {} });

export const SCENARIOS: readonly Scenario[] = [
  { kind: 'load', id: 'hello', title: 'hello, keep-alive', minRatio: 1.5, load: get(ROUTES.hello), ceiling: true },
  {
    kind: 'load', id: 'pipelined', title: 'hello, 16 pipelined per write', minRatio: 4,
    load: { ...get(ROUTES.hello), pipeline: 16 }, ceiling: true,
  },
  {
    kind: 'load', id: 'close', title: 'hello, new connection per request', minRatio: 1.2,
    load: { ...get(ROUTES.hello), headers: { Connection: 'close' } },
  },
  { kind: 'load', id: 'mib', title: '1 MiB response body', minRatio: 1.0, load: get(ROUTES.mib) },
  {
    kind: 'load', id: 'echo', title: '64 KiB POST echoed', minRatio: 1.0,
    load: { path: ROUTES.echo, method: 'POST', pipeline: 1, bodyBytes: 64 * 1024, headers: {} },
  },
  { kind: 'file', id: 'file', title: 'big file (file_wrapper vs pipe)', minRatio: 0.9 },
  { kind: 'idle', id: 'idle', title: 'idle keep-alive connections', maxGrowthMiB: 30 },
];
