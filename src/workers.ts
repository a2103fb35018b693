// `workers` > 1: a node:cluster primary that forks N copies of garcon-serve,
// lets them share the listeners, prints the "Serving on" lines once, restarts a
// worker that dies, shuts them all down gracefully on SIGTERM/SIGINT, and passes
// SIGHUP (reopen the log files) on to them.

import cluster, { type Worker } from 'node:cluster';
import type * as net from 'node:net';
import { INT32_MAX, formatServingUrl } from './adjustments.js';
import type { Logger } from './types.js';
import { clearStaleSocket } from './unix-socket-file.js';

/** Messages between the primary and its workers, tagged so app messages are left alone. */
export type WorkerMessage =
  | { garcon: 'listening'; addresses: (net.AddressInfo | string)[] }
  | { garcon: 'shutdown' };

function isWorkerMessage(message: unknown): message is WorkerMessage {
  return typeof message === 'object' && message !== null && 'garcon' in message;
}

export interface PrimaryPlan {
  workers: number;
  /** Seconds a worker gets to finish its requests after being asked to stop. */
  shutdownTimeout: number;
  /** The unix socket path the workers will share, if any. */
  unixSocket: string | null;
  logger: Logger;
  /** Where the "Serving on" lines go. */
  stdout: NodeJS.WritableStream;
}

/** A worker that dies sooner than this after starting is crashing, not failing by chance: wait before the next. */
const CRASH_WINDOW_MS = 1000;
const RESTART_DELAY_MS = 1000;
/** Extra time for a worker to exit after its own graceful shutdown deadline. */
const EXIT_GRACE_MS = 5000;

/**
 * Run the cluster primary. Resolves with the process exit code: 0 after a
 * graceful shutdown, 1 when the workers could not start or a second signal
 * cut the shutdown short.
 */
export async function runPrimary(plan: PrimaryPlan): Promise<number> {
  // The primary owns the socket file: a stale one is replaced here, once, before any
  // worker binds; the workers share the primary's listening handle and never touch it.
  if (plan.unixSocket !== null) await clearStaleSocket(plan.unixSocket);
  return new Promise<number>((resolve) => {
    const startedAt = new Map<Worker, number>();
    /** Workers that got as far as listening (only those are restarted when they die). */
    const listened = new Set<Worker>();
    /** Addresses of the first worker to listen; null until one does. */
    let servingOn: (net.AddressInfo | string)[] | null = null;
    /** First-generation workers not yet listening or dead: "Serving on" waits for them. */
    let starting = plan.workers;
    let stopping = false;
    let finished = false;
    let killTimer: NodeJS.Timeout | null = null;
    /** Restarts waiting out RESTART_DELAY_MS. They hold the event loop: with every worker dead, nothing else does. */
    const restartTimers = new Set<NodeJS.Timeout>();
    /** 1 once the workers failed to start or a second signal cut the shutdown short. */
    let exitCode = 0;

    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      if (killTimer) clearTimeout(killTimer);
      for (const timer of restartTimers) clearTimeout(timer);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGHUP', onReopen);
      resolve(code);
    };

    const living = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());

    // "Serving on" once, when every first-generation worker can take requests (or has failed).
    const startupSettled = () => {
      if (--starting === 0 && servingOn !== null) {
        for (const address of servingOn) plan.stdout.write(`Serving on ${formatServingUrl(address)}\n`);
      }
    };

    const fork = () => {
      const worker = cluster.fork();
      startedAt.set(worker, Date.now());
      worker.on('message', (message: unknown) => {
        if (!isWorkerMessage(message) || message.garcon !== 'listening') return;
        listened.add(worker);
        if (stopping) {
          // Asked to stop while it was loading: say it again now that it serves, and announce nothing.
          if (worker.isConnected()) worker.send({ garcon: 'shutdown' } satisfies WorkerMessage);
          return;
        }
        servingOn ??= message.addresses;
        startupSettled();
      });
    };

    const stop = () => {
      stopping = true;
      for (const timer of restartTimers) clearTimeout(timer);
      restartTimers.clear();
      for (const worker of living()) {
        if (worker.isConnected()) worker.send({ garcon: 'shutdown' } satisfies WorkerMessage);
      }
      killTimer = setTimeout(() => {
        for (const worker of living()) worker.process.kill('SIGKILL');
      }, Math.min(plan.shutdownTimeout * 1000 + EXIT_GRACE_MS, INT32_MAX)); // a longer delay would fire at once
      killTimer.unref();
      if (living().length === 0) finish(exitCode);
    };

    cluster.on('exit', (worker, code, signal) => {
      const lived = Date.now() - (startedAt.get(worker) ?? 0);
      startedAt.delete(worker);
      if (stopping) {
        // A worker that could not stop cleanly (its close() failed, or it was killed) makes the stop unclean.
        if (code !== 0) exitCode = 1;
        if (living().length === 0) finish(exitCode);
        return;
      }
      if (!listened.has(worker)) {
        if (starting > 0) startupSettled();
        if (servingOn === null && starting === 0) {
          // No worker got to serve: the app or the configuration is broken, restarting will not help.
          plan.logger.error(`worker ${worker.process.pid} exited (${signal ?? `code ${code}`}) before serving; stopping`);
          exitCode = 1;
          stop();
          return;
        }
        // It failed while starting, as its replacement would: keep serving with the others
        // (those still starting may yet listen).
        plan.logger.error(`worker ${worker.process.pid} exited (${signal ?? `code ${code}`}) before serving; not restarting it`);
        if (living().length === 0) finish(1);
        return;
      }
      listened.delete(worker);
      plan.logger.warn(`worker ${worker.process.pid} died (${signal ?? `code ${code}`}); starting a new one`);
      if (lived < CRASH_WINDOW_MS) {
        const timer = setTimeout(() => {
          restartTimers.delete(timer);
          if (!stopping) fork();
        }, RESTART_DELAY_MS);
        restartTimers.add(timer);
      } else {
        fork();
      }
    });

    function onSignal(signal: NodeJS.Signals): void {
      if (stopping) {
        // Second signal: no more waiting.
        for (const worker of living()) worker.process.kill('SIGKILL');
        exitCode = 1;
        finish(1);
        return;
      }
      plan.logger.info(`${signal} received: stopping ${living().length} worker(s) gracefully`);
      stop();
    }
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // Each worker writes the access log itself: each reopens it. One still loading has
    // no log open yet (and would die of the signal's default action).
    function onReopen(): void {
      for (const worker of living()) if (listened.has(worker)) worker.process.kill('SIGHUP');
    }
    process.on('SIGHUP', onReopen);

    for (let i = 0; i < plan.workers; i++) fork();
  });
}

/** A worker's side of the cluster: its shutdown, asked for by the primary. */
export interface WorkerControl {
  /** Tell the primary where we listen; `shutdown` starts a graceful stop (at once if one was asked for already). */
  serving(addresses: (net.AddressInfo | string)[], shutdown: () => void): void;
}

/**
 * In a worker, before it loads the app: a shutdown the primary asks for while
 * the app loads (a SIGTERM during start-up) is kept for when the worker
 * serves, not lost for want of a listener. So is a SIGTERM or SIGINT sent to the
 * whole process group (systemd's stop, Ctrl-C): it is the same stop the primary
 * asks for, and its default action would kill the worker, an unclean exit.
 */
export function workerControl(): WorkerControl {
  let asked = false;
  let shutdown: (() => void) | null = null;
  const onSignal = () => {
    asked = true;
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('message', (message: unknown) => {
    if (!isWorkerMessage(message) || message.garcon !== 'shutdown') return;
    if (shutdown === null) asked = true;
    else shutdown();
  });
  return {
    serving(addresses, stop) {
      // The server's own signal handlers are in place by now.
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      shutdown = stop;
      process.send?.({ garcon: 'listening', addresses } satisfies WorkerMessage);
      if (asked) stop();
    },
  };
}
