// Child process for load.test.ts: endless streaming responses, in a process of
// their own so that a server stuck writing into a reset socket (the event loop
// never free) fails the test instead of freezing the test runner.
// Prints `port N` when listening. /sync and /async stream 64 KiB chunks until
// stopped; /stopped answers how many of those generators ran their finally block.

import { createServer } from '../../src/server.js';
import type { App } from '../../src/types.js';

const CHUNK = Buffer.alloc(64 * 1024, 0x78);
let stopped = 0;

function* endless(): Generator<Buffer> {
  try {
    for (;;) yield CHUNK;
  } finally {
    stopped++;
  }
}

// Never awaits I/O: its chunks come through microtasks only.
async function* endlessAsync(): AsyncGenerator<Buffer> {
  try {
    for (;;) yield CHUNK;
  } finally {
    stopped++;
  }
}

const app: App = (environ, startResponse) => {
  if (environ.PATH_INFO === '/stopped') {
    const body = Buffer.from(String(stopped));
    startResponse('200 OK', [['Content-Length', String(body.length)]]);
    return [body];
  }
  startResponse('200 OK', [['Content-Type', 'application/octet-stream']]);
  return environ.PATH_INFO === '/async' ? endlessAsync() : endless();
};

const server = createServer(app, { listen: '127.0.0.1:0', logLevel: 'error' });
server.listen().then(() => {
  const address = server.addresses[0];
  process.stdout.write(`port ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
