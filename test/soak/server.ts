// The soak's server process: garcon with the echo fixture on an ephemeral port.
// Prints `port N` when listening; answers `rss` on stdin with `rss BYTES`.

import * as readline from 'node:readline';
import { hashApp } from '../../fixtures/echo.js';
import { createServer } from '../../src/server.js';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (...args: unknown[]) => process.stderr.write(`${args.map(String).join(' ')}\n`) };
const server = createServer(hashApp, { listen: '127.0.0.1:0', logger: quiet, channelTimeout: 5, cleanupInterval: 1, maxRequestBodySize: 1 << 20 });
server.listen().then(() => {
  const address = server.addresses[0];
  process.stdout.write(`port ${typeof address === 'object' && address ? address.port : 0}\n`);
});
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'rss') process.stdout.write(`rss ${process.memoryUsage().rss}\n`);
  if (line === 'stop') void server.close().then(() => process.exit(0));
});
