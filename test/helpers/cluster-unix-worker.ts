// A node:cluster program of the user's own, for listeners.test.ts: one worker serves on
// the unix socket given as argv[2]. Mode 'bare' forks it as is and prints the worker's
// listen error; mode 'clear' calls clearStaleUnixSocket() in the primary first, then
// prints the status of one request through the socket.

import cluster from 'node:cluster';
import * as http from 'node:http';
import { app as echo } from '../../fixtures/echo.js';
import { clearStaleUnixSocket, createServer } from '../../src/api.js';
import { recordingLogger } from './http.js';

const [sock, mode] = process.argv.slice(2) as [string, 'bare' | 'clear'];

async function primary(): Promise<void> {
  if (mode === 'clear') await clearStaleUnixSocket(sock);
  const worker = cluster.fork();
  worker.on('message', (message: { listening?: true; error?: string }) => {
    if (message.error !== undefined) {
      console.log(`worker: ${message.error}`);
      return;
    }
    http.get({ socketPath: sock, path: '/' }, (res) => {
      res.resume();
      res.on('end', () => {
        console.log(`served ${res.statusCode}`);
        worker.send('close');
      });
    });
  });
  worker.on('exit', () => process.exit(0));
}

async function child(): Promise<void> {
  const server = createServer(echo, { unixSocket: sock, logger: recordingLogger() });
  try {
    await server.listen();
  } catch (err) {
    process.send!({ error: String(err) }, () => process.exit(1));
    return;
  }
  process.on('message', () => {
    server.close().then(() => process.exit(0), () => process.exit(1));
  });
  process.send!({ listening: true });
}

(cluster.isPrimary ? primary() : child()).catch((err: unknown) => {
  console.error(err);
  process.exit(2);
});
