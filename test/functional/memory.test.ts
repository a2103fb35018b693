// Memory stays bounded for huge bodies: a 200 MiB upload (spilled to a temp file)
// and a 200 MiB download to a client that reads slowly (the app's iteration waits
// for 'drain'). The server runs in its own process so its RSS is measured alone.

import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as readline from 'node:readline';

const MiB = 1024 * 1024;
const TOTAL = 200 * MiB;
const LIMIT = 64 * MiB;

function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /VmRSS:\s+(\d+) kB/.exec(status);
  return kib ? Number(kib[1]) * 1024 : 0;
}

async function startChild(exportName: string): Promise<{ child: ChildProcess; port: number; pid: number }> {
  const script = path.join(__dirname, '..', 'helpers', 'child-server.js');
  const fixture = path.join(__dirname, '..', '..', 'fixtures', exportName === 'hashApp' ? 'echo.js' : 'streaming.js');
  const child = spawn(process.execPath, [script, fixture, exportName, JSON.stringify({ logLevel: 'error' })], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`child server exited with ${code}`)));
  });
  const { port, pid } = JSON.parse(line) as { port: number; pid: number };
  return { child, port, pid };
}

/** The measured figure is worth seeing in the test output, pass or fail. */
function report(what: string, growth: number): void {
  console.log(`      server RSS growth during the 200 MiB ${what}: ${(growth / MiB).toFixed(1)} MiB (limit ${LIMIT / MiB})`);
}

/** Sample the server's RSS every 50 ms while `work` runs; returns the peak. */
async function peakRss(pid: number, work: () => Promise<void>): Promise<number> {
  let peak = rssOf(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssOf(pid));
  }, 50);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, rssOf(pid));
}

describe('memory under huge bodies (server RSS growth)', function () {
  this.timeout(60000);
  let server: { child: ChildProcess; port: number; pid: number } | null = null;
  afterEach(() => {
    server?.child.kill('SIGKILL');
    server = null;
  });

  it('a 200 MiB upload grows the server by less than 64 MiB and arrives intact', async () => {
    server = await startChild('hashApp');
    const { port, pid } = server;
    const baseline = rssOf(pid);
    const block = Buffer.alloc(MiB, 'u');
    const expected = createHash('sha256');
    for (let i = 0; i < TOTAL / MiB; i++) expected.update(block);
    let answer = '';
    const peak = await peakRss(pid, () => new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', async () => {
        socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${TOTAL}\r\nConnection: close\r\n\r\n`);
        for (let i = 0; i < TOTAL / MiB; i++) {
          if (!socket.write(block)) await new Promise((r) => socket.once('drain', r));
        }
      });
      socket.on('data', (d) => {
        answer += d.toString('latin1');
      });
      socket.on('error', reject);
      socket.on('close', () => resolve());
    }));
    expect(answer).to.match(/^HTTP\/1\.1 200 OK/);
    expect(answer.split('\r\n\r\n')[1]).to.equal(`${TOTAL} ${expected.digest('hex')}`);
    report('upload', peak - baseline);
    expect(peak - baseline).to.be.below(LIMIT);
  });

  it('a 200 MiB download to a slow reader grows the server by less than 64 MiB', async () => {
    server = await startChild('bigDownload');
    const { port, pid } = server;
    const baseline = rssOf(pid);
    let received = 0;
    const peak = await peakRss(pid, () => new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(`GET /?size=${TOTAL} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      });
      // Read slowly: pause for 20 ms after every 4 MiB.
      let sincePause = 0;
      socket.on('data', (d: Buffer) => {
        received += d.length;
        sincePause += d.length;
        if (sincePause >= 4 * MiB) {
          sincePause = 0;
          socket.pause();
          setTimeout(() => socket.resume(), 20);
        }
      });
      socket.on('error', reject);
      socket.on('close', () => resolve());
    }));
    expect(received).to.be.greaterThan(TOTAL);
    report('download', peak - baseline);
    expect(peak - baseline).to.be.below(LIMIT);
  });
});
