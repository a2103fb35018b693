// Starting and stopping one benchmark server in its own process, and reading
// its resident memory from /proc.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { FILE_ENV, type ServerAnnouncement } from './routes.js';
import { PINNING, onCpus } from './pinning.js';

/** The two servers compared. */
export type ServerName = 'garcon' | 'node:http';

export const SERVER_NAMES: readonly ServerName[] = ['garcon', 'node:http'];

/** A process the bench can start: the two compared, and the raw socket server that marks the ceiling. */
export type ProcessName = ServerName | 'raw net';

const SCRIPTS: Record<ProcessName, string> = {
  garcon: path.join(__dirname, 'garcon-server.js'),
  'node:http': path.join(__dirname, 'node-server.js'),
  'raw net': path.join(__dirname, 'raw-server.js'),
};

/** USER_HZ: the unit of /proc/PID/stat times; 100 on every Linux architecture Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

/** How long a server may take to announce its port or to exit on SIGTERM. */
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export interface ServerOptions {
  /** File served at /file, or null. */
  file: string | null;
  /** Write a V8 CPU profile into this directory when the server exits. */
  cpuProfileDir: string | null;
}

export class ServerProcess {
  readonly name: ProcessName;
  readonly port: number;
  readonly #child: ChildProcess;

  private constructor(name: ProcessName, port: number, child: ChildProcess) {
    this.name = name;
    this.port = port;
    this.#child = child;
  }

  static async start(name: ProcessName, options: ServerOptions): Promise<ServerProcess> {
    const nodeArgs = options.cpuProfileDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`];
    const env = { ...process.env };
    if (options.file !== null) env[FILE_ENV] = options.file;
    const [file, argv] = onCpus(PINNING.server, process.execPath, [...nodeArgs, SCRIPTS[name]]);
    const child = spawn(file, argv, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} server did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      const lines = readline.createInterface({ input: child.stdout! });
      lines.once('line', (line) => {
        clearTimeout(timer);
        resolve((JSON.parse(line) as ServerAnnouncement).port);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} server exited with code ${code} before listening`));
      });
    });
    return new ServerProcess(name, port, child);
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** Resident set size in bytes (VmRSS of /proc/PID/status). */
  rss(): number {
    const status = fs.readFileSync(`/proc/${this.pid}/status`, 'latin1');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    if (match === null) throw new Error(`no VmRSS for pid ${this.pid}`);
    return Number(match[1]) * 1024;
  }

  /**
   * CPU time the server has used so far (user + system), in microseconds, from
   * /proc/PID/stat. Unlike requests/s it barely moves when the machine is busy.
   */
  cpuMicros(): number {
    const stat = fs.readFileSync(`/proc/${this.pid}/stat`, 'latin1');
    // Fields after the command name (which may hold spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    return (ticks * 1e6) / CLOCK_TICKS_PER_SECOND;
  }

  /** SIGTERM (the server exits cleanly, writing any CPU profile), SIGKILL if it hangs. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
}
