// The garcon side of `npm run bench`: one process serving the routes of
// routes.ts through garcon's WSGI-style app interface on 127.0.0.1.

import * as fs from 'node:fs';
import { createServer } from '../../src/server.js';
import type { App } from '../../src/types.js';
import { FILE_ENV, HELLO, MIB_BODY, ROUTES, announce } from './routes.js';

const HELLO_LENGTH = String(HELLO.length);
const MIB_LENGTH = String(MIB_BODY.length);
const filePath = process.env[FILE_ENV];

const app: App = (environ, startResponse) => {
  switch (environ.PATH_INFO) {
    case ROUTES.hello:
      startResponse('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', HELLO_LENGTH]]);
      return [HELLO];
    case ROUTES.mib:
      startResponse('200 OK', [['Content-Type', 'application/octet-stream'], ['Content-Length', MIB_LENGTH]]);
      return [MIB_BODY];
    case ROUTES.echo: {
      const body = environ['wsgi.input'].read();
      startResponse('200 OK', [['Content-Type', 'application/octet-stream'], ['Content-Length', String(body.length)]]);
      return [body];
    }
    case ROUTES.file:
      if (filePath !== undefined) {
        const fd = fs.openSync(filePath, 'r');
        const size = fs.fstatSync(fd).size;
        startResponse('200 OK', [['Content-Type', 'application/octet-stream'], ['Content-Length', String(size)]]);
        return environ['wsgi.file_wrapper'](fd); // closed by the server once sent
      }
      break;
    default:
      break;
  }
  startResponse('404 Not Found', [['Content-Type', 'text/plain'], ['Content-Length', '9']]);
  return [Buffer.from('Not Found')];
};

// The idle-connections scenario holds 10,000 connections; the default limit (100) would park them.
// With 15,000 and a 20,000 open-file limit, the server warns at start-up that it has no descriptors
// left to park connections past the limit (each keeps room for a body's temp file): never needed here.
const server = createServer(app, { listen: '127.0.0.1:0', connectionLimit: 15000 });
server.listen().then(() => {
  const address = server.addresses[0];
  if (typeof address !== 'object' || address === undefined) throw new Error('garcon bench server has no TCP address');
  announce(address.port);
}, (err: unknown) => {
  console.error(err);
  process.exit(1);
});
