// File descriptors run out (EMFILE): a server in a child process with
// `ulimit -n 64` is flooded with connections; it must log the accept failure,
// stay alive, and serve again once descriptors are free.

import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { get, send } from '../helpers/http.js';

const childScript = path.join(__dirname, 'emfile-server.js');

function startChild(files = 64, options: Record<string, unknown> = {}): Promise<{ child: ChildProcess; port: number; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `ulimit -n ${files} && exec "${process.execPath}" "${childScript}"`], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, GARCON_TEST_OPTIONS: JSON.stringify(options) },
    });
    const lines: string[] = [];
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (line.startsWith('port ')) resolve({ child, port: Number(line.slice(5)), lines });
      }
    });
    child.on('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
}

function openIdle(port: number): Promise<net.Socket> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.on('connect', () => resolve(socket));
    socket.on('close', () => resolve(socket));
  });
}

describe('faults: EMFILE', () => {
  let child: ChildProcess;
  let port: number;
  let lines: string[];
  const held: net.Socket[] = [];
  before(async () => {
    ({ child, port, lines } = await startChild());
    // 120 connections against 64 descriptors: the excess cannot be accepted.
    for (let i = 0; i < 120; i++) held.push(await openIdle(port));
    await new Promise((r) => setTimeout(r, 300));
  });
  after(() => {
    for (const socket of held) socket.destroy();
    child.kill('SIGTERM');
  });

  it('stays up while descriptors are exhausted, and serves again once they free up', async () => {
    expect(child.exitCode).to.equal(null);
    for (const socket of held.splice(0)) socket.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const ok = await send(port, get('/after'), { responses: 1, timeout: 3000 });
    expect(ok.responses[0]?.status).to.equal(200);
  });

  // libuv handles EMFILE inside accept (it closes pending connections through a
  // reserved descriptor and never calls back), so garcon cannot see each drop: it
  // compares connectionLimit with `ulimit -n` at start-up and says so.
  it('logs that connections are being dropped for lack of descriptors', () => {
    expect(lines.some((l) => l.startsWith('log ') && /descriptor|EMFILE/i.test(l)), lines.join('\n')).to.equal(true);
  });
});

describe('faults: descriptors for request bodies while connections are parked', () => {
  /** The status line the server answers on `socket` with, once it closes. */
  function statusLine(socket: net.Socket): Promise<string> {
    let answer = '';
    socket.on('data', (d: Buffer) => {
      answer += d.toString('latin1');
    });
    return new Promise((resolve) => socket.on('close', () => resolve(answer.split('\r\n', 1)[0]!)));
  }

  it('uploads that spill to temp files still get them when idle connections fill the parking', async () => {
    // 40 slots, bodies past 1 KiB go to a temp file, 128 descriptors: parked sockets may
    // not take the descriptors the 40 uploads' temp files need.
    const { child, port } = await startChild(128, { connectionLimit: 40, inbufOverflow: 1024 });
    const uploads: net.Socket[] = [];
    const idle: net.Socket[] = [];
    try {
      for (let i = 0; i < 40; i++) uploads.push(await openIdle(port));
      const answers = uploads.map(statusLine);
      for (const socket of uploads) socket.write(`POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 8192\r\n\r\n${'a'.repeat(512)}`);
      await new Promise((r) => setTimeout(r, 300));
      // Every upload holds a slot: a flood of connections that send nothing, then the bodies' rest.
      for (let i = 0; i < 150; i++) idle.push(await openIdle(port));
      await new Promise((r) => setTimeout(r, 300));
      // Past inbufOverflow each body moves to a temp file, held open until the body is whole.
      for (const socket of uploads) socket.write('b'.repeat(2048));
      await new Promise((r) => setTimeout(r, 300));
      for (const socket of uploads) socket.write('c'.repeat(8192 - 512 - 2048));
      expect(await Promise.all(answers)).to.deep.equal(Array(40).fill('HTTP/1.1 200 OK'));
    } finally {
      for (const socket of [...uploads, ...idle]) socket.destroy();
      child.kill('SIGTERM');
    }
  });
});
