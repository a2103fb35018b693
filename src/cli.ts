#!/usr/bin/env node
// garcon-serve: serve an application from the command line or an ini file, with
// graceful shutdown on SIGTERM/SIGINT (a second signal exits at once), the
// access log reopened on SIGHUP, and optional worker processes.
//
// Exit codes: 0 after a graceful shutdown or --help; 1 for a bad command line,
// configuration or application, a failure to listen, or a shutdown cut short.

import cluster from 'node:cluster';
import { findOption, makeAdjustments } from './adjustments.js';
import { loadAppTarget, loadIniApp, splitConfigSpec } from './app-loader.js';
import { CLI_DEFAULTS, parseCommandLine, usage, type CommandLine } from './cli-args.js';
import { AppResolutionError, CommandLineError, GarconError, InvalidOptionError, ListenError } from './errors.js';
import { readIni, serverOptionsFromIni, serverSection, where, type IniFile } from './ini.js';
import { createLogger } from './logger.js';
import { createServer, serve, type GarconServer } from './server.js';
import type { App, Logger } from './types.js';
import { runPrimary, workerControl } from './workers.js';

/** Options that choose the listeners: given on the command line, they replace the ini file's. */
const LISTENER_OPTIONS = ['listen', 'host', 'port', 'unixSocket', 'sockets'];
/** The most a graceful exit waits for stdout and stderr (pipes) to take the last lines. */
const OUTPUT_FLUSH_MS = 5000;

interface Plan {
  cmd: CommandLine;
  ini: IniFile | null;
  appName: string;
  options: Record<string, string>;
  /** The options the ini file gave (the command line did not replace them). */
  fromIni: ReadonlySet<string>;
}

function plan(argv: readonly string[]): Plan {
  const cmd = parseCommandLine(argv);
  let ini: IniFile | null = null;
  let appName = 'main';
  let options: Record<string, string> = {};
  if (cmd.help) return { cmd, ini, appName, options, fromIni: new Set() };
  if (cmd.config !== null) {
    const { file, name } = splitConfigSpec(cmd.config);
    ini = readIni(file);
    appName = name;
    const given = LISTENER_OPTIONS.filter((o) => o in cmd.options);
    options = serverOptionsFromIni(ini, name, given.length > 0);
    // --host or --port alone overrides that half of the file's host and port, not the other.
    const hostPortOnly = given.every((o) => o === 'host' || o === 'port');
    const fileListens = ['listen', 'unixSocket', 'sockets'].filter((o) => o in options);
    if (given.length === 1 && hostPortOnly && fileListens.length > 0) {
      // The file's listen (or socket) would go, and the other half of host:port default (to every address).
      const flags = given.map((o) => findOption(o)!.flag).join(' and ');
      throw new CommandLineError(
        `${flags} cannot be combined with the ${fileListens.map((o) => findOption(o)!.snake).join(', ')} ` +
          `of ${file}; give --listen (or --unix-socket) on the command line instead`,
      );
    }
    for (const o of given.length === 0 ? [] : LISTENER_OPTIONS) {
      // Both --host and --port given: the file's host and port go too (they are both replaced anyway).
      if (!(hostPortOnly && given.length === 1 && (o === 'host' || o === 'port'))) delete options[o];
    }
  }
  const fromIni = new Set(Object.keys(options).filter((o) => !(o in cmd.options)));
  options = { ...options, ...cmd.options };
  // As waitress-serve: the command line shows info messages unless told otherwise.
  options.logLevel ??= CLI_DEFAULTS.logLevel;
  if (cmd.app === null && ini === null) throw new CommandLineError('Specify an application');
  return { cmd, ini, appName, options, fromIni };
}

async function loadApplication(p: Plan): Promise<App> {
  if (p.cmd.app !== null) return (await loadAppTarget(p.cmd.app, { call: p.cmd.call })) as App;
  return (await loadIniApp(p.ini as IniFile, p.appName)) as App;
}

/**
 * First SIGTERM/SIGINT: graceful close, then exit 0; a second one: exit now.
 * Returns the graceful start, for a cluster primary asking this worker to stop.
 */
function onShutdownSignals(logger: Logger, close: () => Promise<void>): () => void {
  let stopping = false;
  let signalled = false;
  const begin = () => {
    if (stopping) return;
    stopping = true;
    close().then(
      () => exitWhenFlushed(0),
      (err: unknown) => {
        logger.error('Error while shutting down', err);
        exitWhenFlushed(1);
      },
    );
  };
  const handler = (signal: NodeJS.Signals) => {
    // Only a second signal cuts requests short: a cluster worker gets the primary's
    // shutdown message and, from a signal to the process group (systemd, Ctrl-C), the
    // signal too, in either order, for the one stop.
    if (signalled) {
      logger.warn(`${signal} received again: exiting without waiting`);
      process.exit(1);
    }
    signalled = true;
    if (stopping) return;
    logger.info(`${signal} received: finishing requests in flight, then exiting`);
    begin();
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return begin;
}

/**
 * Exit once stdout and stderr have taken what was written to them: through a pipe
 * their writes are asynchronous, and process.exit() would drop the access log's last
 * lines and the last log messages. A reader that has stalled is waited for
 * OUTPUT_FLUSH_MS at most.
 */
function exitWhenFlushed(code: number): void {
  const timer = setTimeout(() => process.exit(code), OUTPUT_FLUSH_MS);
  let waiting = 2;
  const flushed = () => {
    if (--waiting > 0) return;
    clearTimeout(timer);
    process.exit(code);
  };
  process.stdout.write('', flushed);
  process.stderr.write('', flushed);
}

/**
 * SIGHUP: reopen the access log file by its name, after logrotate moved it (its
 * default would end the process at once, requests in flight and all). Installed
 * before the app loads, when there is nothing to reopen yet; returns the setter
 * of the server once it serves.
 */
function onReopenSignal(): (server: GarconServer) => void {
  let serving: GarconServer | null = null;
  process.on('SIGHUP', () => {
    const server = serving;
    if (server === null) return;
    try {
      server.reopenLogFiles();
      server.logger.info('SIGHUP received: log files reopened');
    } catch (err) {
      server.logger.error('SIGHUP received: cannot reopen the access log', err);
    }
  });
  return (server) => {
    serving = server;
  };
}

function ignoreStreamError(): void {
  // stdout carries "Serving on" and the access log (which reports its own failures),
  // stderr log messages and TransLogger's lines: neither is worth the server.
}

/** Where option `name` was given: its flag, or its ini file, section and key; null when it was not. */
function placeOf(name: string, p: Plan): string | null {
  const spec = findOption(name);
  if (spec === undefined) return null;
  // A switch turned off was typed --no-NAME.
  if (name in p.cmd.options) return spec.kind === 'bool' && p.cmd.options[name] === 'false' ? `--no-${spec.flag!.slice(2)}` : spec.flag;
  if (p.ini !== null && p.fromIni.has(name)) return where(p.ini.file, serverSection(p.ini, p.appName) ?? 'server:main', spec.snake);
  return null;
}

function report(err: unknown, withUsage: boolean, p: Plan | null = null): number {
  let message = err instanceof Error ? err.message : String(err);
  // Say where the options were given: the flag typed or the ini file's section and key.
  if (err instanceof InvalidOptionError && p !== null) {
    if (message.startsWith('Option')) {
      // A conflict names its options in quotes: list where each of them was set.
      const named = [...message.matchAll(/"(\w+)"/g)].map((m) => m[1]!);
      const places = [...new Set(named.map((name) => placeOf(name, p)).filter((place) => place !== null))];
      if (places.length > 0) message = `${message} (set by ${places.join(' and ')})`;
    } else {
      // host and port are checked as the listen entry they make: name each where it was given.
      const names = err.option === 'listen' && !('listen' in p.cmd.options) && !p.fromIni.has('listen') ? ['host', 'port'] : [err.option];
      const places = names.map((name) => placeOf(name, p)).filter((place) => place !== null);
      if (places.length > 0) message = `${places.join(', ')}: ${message}`;
    }
  }
  process.stderr.write(`Error: ${message}\n`);
  if (withUsage) process.stderr.write(`\n${usage()}`);
  // Anything that is not one of ours is a bug or an app failure at import: show where.
  // A listen() failure is the machine's answer (EADDRINUSE, EACCES), said in the message.
  const origin = err instanceof GarconError ? err.cause : err;
  if (origin instanceof Error && !(origin instanceof GarconError) && !(err instanceof ListenError) && origin.stack) {
    process.stderr.write(`${origin.stack}\n`);
  }
  return 1;
}

/**
 * Run garcon-serve with `argv` (without node and the script). Resolves with an
 * exit code when it is done at once (help, errors, the end of a worker cluster);
 * a single server keeps running until a signal and exits from the handler.
 */
export async function main(argv: readonly string[]): Promise<number | null> {
  // "Serving on" to a reader that went away (garcon-serve | head) must not end the
  // server: EPIPE comes as an 'error' event, fatal without a listener.
  process.stdout.on('error', ignoreStreamError);
  process.stderr.on('error', ignoreStreamError);
  let p: Plan;
  try {
    p = plan(argv);
  } catch (err) {
    return report(err, err instanceof CommandLineError);
  }
  if (p.cmd.help) {
    process.stdout.write(usage());
    return 0;
  }
  try {
    // Validate everything before forking, with warnings held back (the server repeats them).
    const quiet = createLogger('silent');
    const adj = makeAdjustments({ ...p.options, logger: quiet });
    if (adj.workers > 1 && cluster.isPrimary) {
      return await runPrimary({
        workers: adj.workers,
        shutdownTimeout: adj.shutdownTimeout,
        unixSocket: adj.unixSocket,
        logger: createLogger(adj.logLevel),
        stdout: process.stdout,
      });
    }
    // Before the app loads: what the primary or logrotate asks meanwhile is kept or ignored, not fatal.
    const control = cluster.isWorker ? workerControl() : null;
    const reopenFor = onReopenSignal();
    const app = await loadApplication(p);
    if (control !== null) {
      const server = await createServer(app, p.options).listen();
      reopenFor(server);
      control.serving(server.addresses, onShutdownSignals(server.logger, () => server.close()));
    } else {
      const server = await serve(app, p.options);
      reopenFor(server);
      onShutdownSignals(server.logger, () => server.close());
    }
    return null;
  } catch (err) {
    // The usage helps with a target that names nothing, not with an app that failed to load.
    return report(err, err instanceof AppResolutionError && err.cause === undefined, p);
  }
}

if (require.main === module) {
  // Exit explicitly when done: a cluster worker's IPC channel would keep the process alive.
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== null) process.exit(code);
    },
    (err: unknown) => process.exit(report(err, false)),
  );
}
