// Child process of the idle-connections scenario: opens COUNT keep-alive
// connections to 127.0.0.1:PORT, makes one request on each (so each is a
// served, persistent connection), reports, then holds them until stdin closes.
//
//   node idle-client.js PORT COUNT

import * as net from 'node:net';

/** Connections being opened at once: enough to be quick, few enough to stay inside the listen backlog. */
const OPEN_AT_ONCE = 200;
const PER_CONNECTION_TIMEOUT_MS = 10_000;
const REQUEST = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';

export interface IdleReport {
  opened: number;
  failed: number;
}

const held: net.Socket[] = [];

/** Connect, send one request, resolve once the (small) response has fully arrived. */
function openOne(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, PER_CONNECTION_TIMEOUT_MS);
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    socket.setEncoding('latin1');
    socket.write(REQUEST);
    socket.on('data', (text: string) => {
      received += text;
      if (!received.endsWith('Hello, World!')) return;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      held.push(socket);
      resolve(true);
    });
  });
}

async function main(): Promise<void> {
  const port = Number(process.argv[2]);
  const count = Number(process.argv[3]);
  let next = 0;
  let opened = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      if (await openOne(port)) opened++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(OPEN_AT_ONCE, count) }, worker));
  const report: IdleReport = { opened, failed: count - opened };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.stdin.resume();
  process.stdin.once('end', () => {
    for (const socket of held) socket.destroy();
    process.exit(0);
  });
}

void main();
