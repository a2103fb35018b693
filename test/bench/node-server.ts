// The baseline side of `npm run bench`: one node:http process serving the
// routes of routes.ts the idiomatic way (writeHead + end, createReadStream().pipe).

import * as fs from 'node:fs';
import * as http from 'node:http';
import { FILE_ENV, HELLO, MIB_BODY, ROUTES, announce } from './routes.js';

const HELLO_HEADERS = { 'Content-Type': 'text/plain', 'Content-Length': String(HELLO.length) };
const MIB_HEADERS = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(MIB_BODY.length) };
const filePath = process.env[FILE_ENV];

function echo(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) });
    res.end(body);
  });
}

function sendFile(path: string, res: http.ServerResponse): void {
  const size = fs.statSync(path).size;
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) });
  fs.createReadStream(path).pipe(res);
}

const server = http.createServer((req, res) => {
  if (req.url === ROUTES.hello) {
    res.writeHead(200, HELLO_HEADERS);
    res.end(HELLO);
  } else if (req.url === ROUTES.mib) {
    res.writeHead(200, MIB_HEADERS);
    res.end(MIB_BODY);
  } else if (req.url === ROUTES.echo && req.method === 'POST') {
    echo(req, res);
  } else if (req.url === ROUTES.file && filePath !== undefined) {
    sendFile(filePath, res);
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': '9' });
    res.end('Not Found');
  }
});
// Match garcon's channelTimeout (120 s): node's 5 s default would close the idle-connection scenario's sockets.
server.keepAliveTimeout = 120_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('node:http bench server has no TCP address');
  announce(address.port);
});
