// Child process for emfile.test.ts: a garcon server run under a low `ulimit -n`.
// Prints `port N` when listening and every log line as `log LEVEL message`;
// GARCON_TEST_OPTIONS (JSON) overrides its options.

import { createServer } from '../../src/server.js';
import type { App } from '../../src/types.js';

const app: App = (_environ, startResponse) => {
  startResponse('200 OK', [['Content-Length', '2']]);
  return [Buffer.from('ok')];
};
const line = (level: string) => (...args: unknown[]) => process.stdout.write(`log ${level} ${args.map(String).join(' ')}\n`);
const server = createServer(app, {
  listen: '127.0.0.1:0',
  connectionLimit: 1000,
  logger: { debug: () => undefined, info: line('info'), warn: line('warn'), error: line('error') },
  ...(JSON.parse(process.env.GARCON_TEST_OPTIONS ?? '{}') as Record<string, unknown>),
});
server.listen().then(() => {
  const address = server.addresses[0];
  process.stdout.write(`port ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
