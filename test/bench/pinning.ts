// CPU pinning for the benchmark. On a 2-core machine the server and wrk otherwise
// share both cores, and the scheduler moving one onto the other's core mid-run
// shows up as noise (and as a penalty that depends on luck, not on the server).
// With taskset and at least 2 cores, every server runs on the last core and the
// load generator on the others; both servers get exactly the same treatment.
// BENCH_PIN=0 turns it off.

import { spawnSync } from 'node:child_process';
import * as os from 'node:os';

export interface Pinning {
  /** CPU list for the servers (taskset -c syntax), or null when not pinning. */
  readonly server: string | null;
  /** CPU list for the load generator, or null. */
  readonly client: string | null;
}

export function choosePinning(env: NodeJS.ProcessEnv = process.env, cores = os.availableParallelism()): Pinning {
  if (env.BENCH_PIN === '0' || cores < 2) return { server: null, client: null };
  if (spawnSync('taskset', ['-V'], { stdio: 'ignore' }).error !== undefined) return { server: null, client: null };
  const last = cores - 1;
  return { server: String(last), client: last === 1 ? '0' : `0-${last - 1}` };
}

/** `command args` as run on `cpus` (taskset -c CPUS command args), or unchanged when `cpus` is null. */
export function onCpus(cpus: string | null, command: string, args: string[]): [string, string[]] {
  return cpus === null ? [command, args] : ['taskset', ['-c', cpus, command, ...args]];
}

/** Chosen once per process: the servers and wrk read the same decision. */
export const PINNING: Pinning = choosePinning();
