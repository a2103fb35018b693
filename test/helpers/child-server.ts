// Runs a fixture app in its own process (so its memory can be measured alone):
//   node child-server.js <module path> <export name> [options JSON]
// Prints {"port": N, "pid": P} on stdout once listening; closes on SIGTERM.

import { createServer } from '../../src/server.js';
import type { App } from '../../src/types.js';

async function main(): Promise<void> {
  const [modulePath, exportName, optionsJson] = process.argv.slice(2);
  if (!modulePath || !exportName) throw new Error('usage: child-server <module> <export> [options JSON]');
  const mod = (await import(modulePath)) as Record<string, unknown>;
  const app = mod[exportName] as App;
  const options = { listen: '127.0.0.1:0', ...(optionsJson ? JSON.parse(optionsJson) as object : {}) };
  const server = await createServer(app, options).listen();
  const address = server.addresses[0];
  process.stdout.write(JSON.stringify({ port: typeof address === 'object' ? address?.port : null, pid: process.pid }) + '\n');
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
