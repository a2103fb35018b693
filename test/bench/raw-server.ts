// The ceiling of `npm run bench`'s hello scenario: a bare `net` server that
// only counts the request heads in what it reads (CRLF CRLF) and writes a
// canned hello response for each, with the same headers as the other two
// servers. No HTTP parsing, no app: what a server on Node's sockets cannot beat.

import * as net from 'node:net';
import { HELLO, announce } from './routes.js';

const TERMINATOR = Buffer.from('\r\n\r\n', 'latin1');

let date = '';
let response = Buffer.alloc(0);
/** The canned response, with a Date header refreshed once a second as the real servers' are. */
function hello(): Buffer {
  const now = new Date().toUTCString();
  if (now !== date) {
    date = now;
    response = Buffer.concat([
      Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${HELLO.length}\r\nDate: ${date}\r\n\r\n`, 'latin1'),
      HELLO,
    ]);
  }
  return response;
}

const server = net.createServer({ noDelay: true }, (socket) => {
  // The last 3 bytes of the previous read: a terminator may straddle two reads.
  let tail: Buffer = Buffer.alloc(0);
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    const data = tail.length === 0 ? chunk : Buffer.concat([tail, chunk]);
    let heads = 0;
    for (let at = data.indexOf(TERMINATOR); at !== -1; at = data.indexOf(TERMINATOR, at + 4)) heads++;
    tail = data.subarray(Math.max(0, data.length - 3));
    if (heads === 1) socket.write(hello());
    else if (heads > 1) socket.write(Buffer.concat(Array.from({ length: heads }, hello)));
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('raw bench server has no TCP address');
  announce(address.port);
});
