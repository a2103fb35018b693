// The ceiling of `npm run bench`'s hello scenario: a bare `net` server that
// only counts the request heads in what it reads (CRLF CRLF) and writes a
// canned hello response for each, with the same headers as the other two
// servers. No HTTP parsing, no app: what a server on Node's sockets cannot beat.

import * as net from 'node:net';
import { HELLO, announce } from './routes.js';

const TERMINATOR = Buffer.from('\r\n\r\n', 'latin1');

/** The canned response, with a Date header refreshed once a second (by a timer, so a response costs no clock read). */
let response = Buffer.alloc(0);
function refresh(): void {
  const head = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${HELLO.length}\r\nDate: ${new Date().toUTCString()}\r\n\r\n`;
  response = Buffer.concat([Buffer.from(head, 'latin1'), HELLO]);
}
refresh();
setInterval(refresh, 1000).unref();

/** How many bytes of a terminator `data` ends with (0-3), i.e. a CRLF CRLF the next read may complete. */
function partialTerminator(data: Buffer): number {
  for (let k = 3; k > 0; k--) {
    if (data.length >= k && TERMINATOR.subarray(0, k).equals(data.subarray(data.length - k))) return k;
  }
  return 0;
}

const server = net.createServer({ noDelay: true }, (socket) => {
  // Terminator bytes matched at the end of the previous read: one may straddle two reads.
  let matched = 0;
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    let heads = 0;
    let from = 0;
    if (matched > 0) {
      const need = 4 - matched;
      const part = chunk.subarray(0, need);
      if (!TERMINATOR.subarray(matched, matched + part.length).equals(part)) {
        matched = 0;
      } else if (part.length < need) {
        matched += part.length; // a read shorter than the rest of the terminator
        return;
      } else {
        heads++;
        from = need;
      }
    }
    for (let at = chunk.indexOf(TERMINATOR, from); at !== -1; at = chunk.indexOf(TERMINATOR, at + 4)) heads++;
    matched = chunk.length >= 4 && chunk.subarray(-4).equals(TERMINATOR) ? 0 : partialTerminator(chunk);
    if (heads === 1) socket.write(response);
    else if (heads > 1) socket.write(Buffer.concat(Array.from({ length: heads }, () => response)));
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('raw bench server has no TCP address');
  announce(address.port);
});
