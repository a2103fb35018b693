// What the server does with what the app gives it: write(), wrong lengths,
// exceptions at every point, excInfo, and headers the app may not set.

import { expect } from 'chai';
import * as net from 'node:net';
import { app as badLength } from '../../fixtures/bad-content-length.js';
import { app as errorApp } from '../../fixtures/error.js';
import { asyncStream, sleepy } from '../../fixtures/streaming.js';
import { lateWriter, app as writeCallback } from '../../fixtures/write-callback.js';
import { AppContractError } from '../../src/errors.js';
import type { App } from '../../src/types.js';
import { get, send, startServer, type Running } from '../helpers/http.js';

describe('the write() callable', () => {
  let srv: Running;
  before(async () => {
    srv = await startServer(writeCallback);
  });
  after(() => srv.close());

  it('sends exactly Content-Length bytes and keeps the connection', async () => {
    const ex = await send(srv.port, get('/') + get('/'), { responses: 2 });
    expect(ex.responses.map((r) => r.body.toString())).to.deep.equal(['abcdefghi', 'abcdefghi']);
  });

  it('truncates a body longer than Content-Length, warns, and keeps the connection', async () => {
    const ex = await send(srv.port, get('/long_body') + get('/'), { responses: 2 });
    expect(ex.responses[0]!.body.toString()).to.equal('abcdefghi');
    expect(ex.responses[1]!.body.toString()).to.equal('abcdefghi');
    expect(srv.logger.messages('warn').join()).to.contain('exceeded the number of bytes specified by Content-Length header (9)');
  });

  it('closes after a body shorter than Content-Length', async () => {
    const ex = await send(srv.port, get('/short_body') + get('/'));
    // The body is incomplete, so the helper cannot parse a response: read the raw bytes.
    expect(ex.raw.toString('latin1')).to.contain('\r\nContent-Length: 9\r\n');
    expect(ex.raw.toString('latin1').endsWith('\r\n\r\nabcdefgh')).to.equal(true);
    expect(ex.closed).to.equal(true);
    expect(srv.logger.messages('warn').join()).to.contain('too few bytes (8) for specified Content-Length (9)');
  });

  it('a write() kept past the end of its response is refused, and nothing reaches the next response', async () => {
    const late = lateWriter();
    const server = await startServer(late.app);
    try {
      const ex = await send(server.port, get('/'), { responses: 1 });
      expect(late.lateWrite()).to.be.instanceOf(AppContractError);
      const again = await send(server.port, get('/'), { responses: 1 });
      expect(ex.responses[0]!.body.toString()).to.equal('ok');
      expect(again.raw.toString('latin1')).to.not.contain('late');
    } finally {
      await server.close();
    }
  });

  it('HTTP/1.0 without Content-Length is close-delimited', async () => {
    const ex = await send(srv.port, 'GET /no_content_length HTTP/1.0\r\n\r\n');
    expect(ex.responses[0]!.headers).to.not.have.property('content-length');
    expect(ex.responses[0]!.body.toString()).to.equal('abcdefghi');
    expect(ex.closed).to.equal(true);
  });
});

describe('app-declared Content-Length that is wrong', () => {
  let srv: Running;
  before(async () => {
    srv = await startServer(badLength);
  });
  after(() => srv.close());

  it('too short a body: the declared length is sent, then the connection closes', async () => {
    const ex = await send(srv.port, get('/short_body', 'Connection: keep-alive\r\n'));
    expect(ex.raw.toString('latin1')).to.contain('\r\nContent-Length: 10\r\n');
    expect(ex.raw.toString('latin1').endsWith('\r\n\r\nabcdefghi')).to.equal(true);
    expect(ex.closed).to.equal(true);
  });

  it('too long a body: cut to the declared length, connection kept', async () => {
    const ex = await send(srv.port, get('/long_body') + get('/'), { responses: 2 });
    expect(ex.responses[0]!.body.toString()).to.equal('abcdefgh');
    expect(ex.responses[1]!.body.toString()).to.equal('abcdefghi');
  });
});

describe('application errors', () => {
  let srv: Running;
  before(async () => {
    srv = await startServer(errorApp);
  });
  after(() => srv.close());

  for (const path of ['/before_start_response', '/after_start_response', '/async_reject', '/no_start_response']) {
    it(`${path}: 500 page, Connection: close, then closed; the server keeps serving`, async () => {
      const ex = await send(srv.port, get(path));
      const res = ex.responses[0]!;
      expect(res.statusLine).to.equal('HTTP/1.1 500 Internal Server Error');
      expect(res.headers.connection).to.equal('close');
      expect(res.headers['content-type']).to.equal('text/plain; charset=utf-8');
      expect(res.body.toString()).to.match(/^Internal Server Error\r\n\r\n/);
      expect(res.body.toString()).to.not.contain('boom');
      expect(ex.closed).to.equal(true);
      const again = await send(srv.port, get('/exc_info'), { responses: 1 });
      expect(again.responses[0]!.status).to.equal(500);
    });
  }

  it('logs an app that never called start_response', async () => {
    await send(srv.port, get('/no_start_response'));
    expect(srv.logger.messages('error').join()).to.contain('Exception while serving /no_start_response');
  });

  it('names the request by its target as sent: an encoded line break or escape cannot forge a log line', async () => {
    await send(srv.port, get('/boom%0aINFO:garcon:forged%1b[31m?q=%0d'));
    const messages = srv.logger.messages('error');
    expect(messages).to.include('Exception while serving /boom%0aINFO:garcon:forged%1b[31m?q=%0d');
    expect(messages.join('')).not.to.match(/[\x00-\x1f]/);
  });

  it('logs the exception with its stack', async () => {
    await send(srv.port, get('/before_start_response'));
    const record = srv.logger.records.find((r) => r.message.startsWith('Exception while serving /before_start_response'));
    expect(record?.args[1]).to.be.instanceOf(Error);
  });

  it('HEAD: the 500 head, with the page\'s Content-Length, and no body', async () => {
    const ex = await send(srv.port, 'HEAD /before_start_response HTTP/1.1\r\nHost: x\r\n\r\n');
    const raw = ex.raw.toString('latin1');
    expect(raw).to.match(/^HTTP\/1\.1 500 Internal Server Error\r\n/);
    expect(raw).to.match(/\r\nContent-Length: [1-9]\d*\r\n/);
    expect(raw.indexOf('\r\n\r\n') + 4, 'bytes after the head').to.equal(raw.length);
    expect(ex.closed).to.equal(true);
  });

  it('an error after the head went out closes the connection without finishing the body', async () => {
    for (const path of ['/after_write_cb', '/in_generator']) {
      const ex = await send(srv.port, get(path) + get('/'));
      expect(ex.raw.toString('latin1')).to.match(/^HTTP\/1\.1 200 OK\r\n/);
      expect(ex.raw.toString('latin1')).to.not.contain('0\r\n\r\n');
      expect(ex.closed).to.equal(true);
    }
  });

  it('HTTP/1.0 keep-alive error responses carry only Connection: close (Q12 fixed)', async () => {
    const ex = await send(srv.port, 'GET /before_start_response HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    expect(ex.responses[0]!.statusLine).to.equal('HTTP/1.0 500 Internal Server Error');
    expect(ex.responses[0]!.rawHeaders.filter(([n]) => n.toLowerCase() === 'connection')).to.deep.equal([['Connection', 'close']]);
  });

  it('excInfo before the head is sent replaces status and headers', async () => {
    const ex = await send(srv.port, get('/exc_info'), { responses: 1 });
    const res = ex.responses[0]!;
    expect(res.statusLine).to.equal('HTTP/1.1 500 Oops');
    expect(res.headers).to.have.property('x-after');
    expect(res.headers).to.not.have.property('x-before');
    expect(res.body.toString()).to.equal('oops');
  });

  const refused: [string, string][] = [
    ['/hop_by_hop', 'hop-by-hop'],
    ['/bad_header_value', 'invalid character in the value of header X-Split'],
    ['/spaced_length', 'invalid Content-Length " 5 "'],
    ['/bad_status', 'invalid status'],
    ['/interim_status', 'is interim (1xx)'],
    ['/status_600', 'status codes run from 100 to 599'],
    ['/exc_info_null', 'start_response called a second time'],
    ['/exc_info_false', 'start_response called a second time'],
  ];
  for (const [path, logged] of refused) {
    it(`${path}: the app's header never reaches the wire; 500 and a log line`, async () => {
      const ex = await send(srv.port, get(path));
      expect(ex.responses[0]!.status).to.equal(500);
      expect(ex.raw.toString('latin1')).to.not.match(/Set-Cookie|never sent|Connection: close\r\nConnection/);
      expect(srv.logger.records.some((r) => r.level === 'error' && String(r.args[1]).includes(logged))).to.equal(true);
    });
  }

  it('a non-bytes chunk after start_response is a 500', async () => {
    const ex = await send(srv.port, get('/string_chunk'));
    expect(ex.responses[0]!.status).to.equal(500);
  });

  it('exposeTracebacks puts the stack (UTF-8) in the 500 body with an exact Content-Length', async () => {
    const verbose = await startServer(errorApp, { exposeTracebacks: true });
    try {
      const ex = await send(verbose.port, get('/before_start_response'));
      const res = ex.responses[0]!;
      expect(res.body.toString('utf8')).to.contain('boom before start_response: €');
      expect(Number(res.headers['content-length'])).to.equal(res.body.length);
    } finally {
      await verbose.close();
    }
  });
});

describe('app mistakes that surface later cost one response, never the process', () => {
  it('an async close() that rejects is logged; the response stands and the server keeps serving', async () => {
    const app: App = (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Length', '2']]);
      return Object.assign([Buffer.from('ok')], { close: async () => Promise.reject(new Error('pool release failed')) });
    };
    const srv = await startServer(app);
    try {
      const ex = await send(srv.port, get('/release') + get('/again'), { responses: 2 });
      expect(ex.responses.map((r) => r.body.toString())).to.deep.equal(['ok', 'ok']);
      await new Promise((resolve) => setImmediate(resolve));
      const logged = srv.logger.records.filter((r) => r.message === 'Exception while closing the application iterable for /release');
      expect(String(logged[0]?.args[1])).to.contain('pool release failed');
    } finally {
      await srv.close();
    }
  });

  it('an iterator whose next() returns undefined, met after waiting for a slow reader: the connection closes, logged', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x78);
    const app: App = (environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'application/octet-stream']]);
      if (environ.PATH_INFO !== '/slow') return [chunk];
      let left = Number(environ.QUERY_STRING);
      // Hand-written, and wrong at the end: no { done: true }.
      return { [Symbol.iterator]: () => ({ next: () => (left-- > 0 ? { value: chunk, done: false } : undefined) as never }) };
    };
    const srv = await startServer(app, { outbufHighWatermark: 64 * 1024 });
    try {
      const socket = net.connect(srv.port, '127.0.0.1');
      socket.pause(); // a reader slower than the app: the app waits for the socket to drain
      socket.write(get('/slow?64'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      let received = 0;
      socket.on('data', (data: Buffer) => (received += data.length));
      socket.resume();
      await new Promise((resolve) => socket.once('close', resolve));
      expect(received).to.be.greaterThan(64 * chunk.length);
      const logged = srv.logger.records.find((r) => r.message === 'Exception while serving /slow?64');
      expect(String(logged?.args[1])).to.contain('returned undefined from next(), not a { value, done } object');
      const ok = await send(srv.port, get('/fast?1'), { responses: 1 });
      expect(ok.responses[0]!.status).to.equal(200);
    } finally {
      await srv.close();
    }
  });
});

describe('lazy start_response', () => {
  it('an empty chunk before start_response is skipped, not an error (Waitress 5.10)', async () => {
    const app: App = (_environ, startResponse) => (function* () {
      yield Buffer.alloc(0);
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      yield Buffer.from('abc');
    })();
    const srv = await startServer(app);
    try {
      const ex = await send(srv.port, get('/'), { responses: 1 });
      expect([ex.responses[0]?.status, ex.responses[0]?.body.toString()]).to.deep.equal([200, 'abc']);
    } finally {
      await srv.close();
    }
  });
});

describe('generators stopped early', () => {
  it('get return(), so their finally blocks run: on a bad chunk and when the client leaves', async () => {
    const finished: string[] = [];
    const app: App = (environ, startResponse) => {
      const path = String(environ.PATH_INFO);
      startResponse('200 OK', [['Content-Type', 'application/octet-stream']]);
      return (function* body() {
        try {
          yield Buffer.from('abc');
          if (path === '/bad_chunk') yield 'not bytes' as unknown as Buffer;
          for (;;) yield Buffer.alloc(1 << 20); // until the client leaves
        } finally {
          finished.push(path);
        }
      })();
    };
    const srv = await startServer(app);
    try {
      const bad = await send(srv.port, get('/bad_chunk'));
      expect(bad.raw.toString('latin1')).to.match(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n3\r\nabc\r\n$/);
      expect(bad.closed).to.equal(true);
      expect(finished).to.deep.equal(['/bad_chunk']);
      // A client that reads the head and leaves: the endless generator must be stopped.
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(srv.port, '127.0.0.1', () => socket.write(get('/endless')));
        socket.once('data', () => socket.destroy());
        socket.once('close', () => resolve());
        socket.once('error', reject);
      });
      for (let i = 0; i < 100 && finished.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect(finished).to.deep.equal(['/bad_chunk', '/endless']);
      expect(srv.logger.messages('info').join()).to.contain('Client disconnected while serving /endless');
    } finally {
      await srv.close();
    }
  });
});

describe('async apps', () => {
  it('a Promise-returning app and an async-iterable body are served', async () => {
    const a = await startServer(sleepy);
    const b = await startServer(asyncStream);
    try {
      const ex1 = await send(a.port, get('/x?ms=10'), { responses: 1 });
      expect(ex1.responses[0]!.body.toString()).to.equal('slept /x');
      const ex2 = await send(b.port, get('/') + get('/'), { responses: 2 });
      expect(ex2.responses.map((r) => r.body.toString())).to.deep.equal(['part0;part1;part2;', 'part0;part1;part2;']);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('response bytes as written', () => {
  // Small pieces are queued as latin-1 text, joined, and larger ones batched:
  // whatever the path, every byte value must arrive as the app gave it.
  const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const inner = new Uint8Array(600);
  for (let i = 0; i < inner.length; i++) inner[i] = (i * 7 + 3) & 0xff;
  /** A plain Uint8Array (not a Buffer) that starts inside its ArrayBuffer. */
  const offsetView = new Uint8Array(inner.buffer, 100, 400);
  const big = Buffer.alloc(3000, 0xe9);
  const bodies: Record<string, Uint8Array[]> = {
    '/bytes': [ALL_BYTES],
    '/view': [offsetView],
    '/mixed': [ALL_BYTES, big, offsetView, ALL_BYTES],
  };
  let srv: Running;
  before(async () => {
    srv = await startServer((environ, startResponse) => {
      const path = environ.PATH_INFO as string;
      if (path === '/long-head') {
        // A head past the size written without copying: still latin-1, one byte per char.
        startResponse('200 OK', [['X-Big', 'a'.repeat(20000)], ['Content-Disposition', 'attachment; filename="caf\u00e9.txt"']]);
        return [Buffer.from('hi')];
      }
      startResponse('200 OK', [['Content-Type', 'application/octet-stream']]);
      if (path.startsWith('/reuse/')) {
        // One buffer refilled for every chunk, as a read loop does: each chunk must leave as it was yielded.
        const buf = Buffer.alloc(Number(path.slice(7)));
        return (function* refilled() {
          for (const c of 'ABC') {
            buf.fill(c);
            yield buf;
          }
        })();
      }
      if (!path.startsWith('/gen')) return bodies[path]!;
      // A generator: no known length, so HTTP/1.1 frames it with chunks.
      const chunks = bodies[path.slice(4)]!;
      return (function* pieces() {
        yield* chunks;
      })();
    });
  });
  after(() => srv.close());

  it('sends every byte value intact, from Buffers and offset Uint8Arrays, pipelined, with Content-Length or chunked', async () => {
    const paths = ['/bytes', '/view', '/gen/mixed', '/mixed', '/gen/bytes', '/bytes', '/mixed', '/gen/view', '/view'];
    const ex = await send(srv.port, paths.map((p) => get(p)).join('') + get('/bytes', 'Connection: close\r\n'));
    expect(ex.responses).to.have.length(paths.length + 1);
    [...paths, '/bytes'].forEach((path, i) => {
      const expected = Buffer.concat(bodies[path.replace(/^\/gen/, '')]!);
      expect(ex.responses[i]!.headers['transfer-encoding'], path).to.equal(path.startsWith('/gen') ? 'chunked' : undefined);
      expect(Buffer.compare(ex.responses[i]!.body, expected), `${path} (#${i})`).to.equal(0);
    });
    const ten = await send(srv.port, get('/mixed', '', '1.0'), { responses: 1 });
    expect(Buffer.compare(ten.responses[0]!.body, Buffer.concat(bodies['/mixed']!))).to.equal(0);
  });

  it('sends a head of 20,000 bytes as latin-1, as a short one', async () => {
    const ex = await send(srv.port, get('/long-head'), { responses: 1 });
    expect(ex.raw.includes(Buffer.from('filename="caf\xe9.txt"\r\n', 'latin1'))).to.equal(true);
    expect(ex.responses[0]!.headers['x-big']).to.have.length(20000);
  });

  for (const size of [100, 4000, 16000]) {
    it(`sends ${size}-byte chunks yielded from one refilled buffer as they were when yielded`, async () => {
      // The HTTP/1.0 response is close-delimited: read until the server closes.
      const ex = await send(srv.port, get(`/reuse/${size}`) + get(`/reuse/${size}`, '', '1.0'));
      expect(ex.responses).to.have.length(2);
      for (const res of ex.responses) expect(res.body.toString('latin1')).to.equal('A'.repeat(size) + 'B'.repeat(size) + 'C'.repeat(size));
    });
  }
});
