// The file behind a unix-socket listener: a stale one left by a crashed run is
// replaced, a live server's never is. (At close libuv itself unlinks the path a
// listener bound, in a cluster primary too.)

import * as fs from 'node:fs';
import * as net from 'node:net';
import { InvalidOptionError, ListenError } from './errors.js';

/** How long a connect() to an existing socket may take before its server counts as alive but busy. */
const PROBE_TIMEOUT_MS = 1000;

/** Resolves with how a connect() to `path` ended: 'accepted', or the error code. */
function probe(path: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ path });
    const done = (outcome: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    // A server too busy to accept at once is still a server.
    const timer = setTimeout(() => done('accepted'), PROBE_TIMEOUT_MS);
    socket.once('connect', () => done('accepted'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? 'error'));
  });
}

/**
 * Make `path` free to bind: nothing there, or a socket nobody listens on (removed).
 * Refuses a file that is not a socket, and a socket a running server answers on.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(path);
  } catch {
    return; // nothing there: the usual case
  }
  if (!stat.isSocket()) throw new InvalidOptionError('unixSocket', `unixSocket "${path}" exists and is not a socket; refusing to replace it`);
  const outcome = await probe(path);
  if (outcome === 'ENOENT') return; // removed meanwhile
  if (outcome !== 'ECONNREFUSED') {
    const cause = outcome === 'accepted'
      ? Object.assign(new Error(`a running server answers on ${path}; refusing to take its socket over`), { code: 'EADDRINUSE' })
      : Object.assign(new Error(`cannot tell whether a server still answers on ${path} (${outcome}); refusing to replace it`), { code: outcome });
    throw new ListenError(path, cause);
  }
  try {
    fs.unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
