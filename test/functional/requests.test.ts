// Requests the server must accept: bodies (fixed, chunked, spilled to disk),
// size limits, Expect: 100-continue, pipelining, bytes split at every boundary,
// and the environ the app gets.

import { expect } from 'chai';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import { app as echo } from '../../fixtures/echo.js';
import type { App, Environ } from '../../src/types.js';
import { get, send, startServer, type Running } from '../helpers/http.js';

const H = 'Host: x\r\n';
const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const envOf = (body: Buffer) => JSON.parse(body.toString()) as Record<string, unknown>;

describe('request bodies and the environ', () => {
  let srv: Running;
  before(async () => {
    srv = await startServer(echo);
  });
  after(() => srv.close());

  it('passes a Content-Length body intact, CRLFs included', async () => {
    const body = 'a\r\nb\r\n\r\nc';
    const ex = await send(srv.port, `POST / HTTP/1.1\r\n${H}Content-Length: ${body.length}\r\n\r\n${body}`, { responses: 1 });
    const env = envOf(ex.responses[0]!.body);
    expect(env.body_length).to.equal(body.length);
    expect(env.body_sha256).to.equal(sha(body));
    expect(env.CONTENT_LENGTH).to.equal(String(body.length));
  });

  it('keeps CONTENT_LENGTH as sent (leading zeros) and reads exactly that many bytes', async () => {
    const ex = await send(srv.port, `POST / HTTP/1.1\r\n${H}Content-Length: 03\r\n\r\nabc` + get('/next'), { responses: 2 });
    expect(envOf(ex.responses[0]!.body).CONTENT_LENGTH).to.equal('03');
    expect(envOf(ex.responses[1]!.body).PATH_INFO).to.equal('/next');
  });

  it('de-chunks a body sent in separate packets, with extensions and trailers', async () => {
    const pieces = [`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`];
    for (let i = 0; i < 12; i++) pieces.push(`20;n=${i}\r\n${'x'.repeat(32)}\r\n`);
    pieces.push('0\r\nX-Trailer: yes\r\n\r\n');
    const ex = await send(srv.port, pieces, { responses: 1, pieceDelay: 2 });
    const env = envOf(ex.responses[0]!.body);
    expect(env.CONTENT_LENGTH).to.equal('384');
    expect(env.body_sha256).to.equal(sha('x'.repeat(384)));
    expect(env).to.not.have.property('HTTP_TRANSFER_ENCODING');
    expect(env).to.not.have.property('HTTP_X_TRAILER');
  });

  it('an empty chunked body gives CONTENT_LENGTH 0', async () => {
    const ex = await send(srv.port, `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, { responses: 1 });
    expect(envOf(ex.responses[0]!.body).CONTENT_LENGTH).to.equal('0');
  });

  it('builds the environ keys of the contract', async () => {
    const ex = await send(srv.port, `GET //a/%2Fb%20c?x=%41&y#frag HTTP/1.1\r\nHost: example.com:81\r\nX-Auth_User: admin\r\nX-Many: 1\r\nx-many: 2\r\nFoo:  \xa0BAR\x85 \r\n\r\n`, { responses: 1 });
    const env = envOf(ex.responses[0]!.body);
    expect(env.REQUEST_METHOD).to.equal('GET');
    expect(env.PATH_INFO).to.equal('/a//b c');
    expect(env.QUERY_STRING).to.equal('x=%41&y');
    expect(env.REQUEST_URI).to.equal('//a/%2Fb%20c?x=%41&y#frag');
    expect(env.SCRIPT_NAME).to.equal('');
    expect(env.SERVER_PROTOCOL).to.equal('HTTP/1.1');
    expect(env.SERVER_PORT).to.equal(String(srv.port));
    expect(env.REMOTE_ADDR).to.equal('127.0.0.1');
    expect(env.REMOTE_PORT).to.match(/^\d+$/);
    expect(env.HTTP_HOST).to.equal('example.com:81');
    expect(env.HTTP_X_MANY).to.equal('1, 2');
    expect(env.HTTP_FOO).to.equal('\xa0BAR\x85');
    expect(env).to.not.have.property('HTTP_X_AUTH_USER');
    expect(env['wsgi.url_scheme']).to.equal('http');
    expect(env['wsgi.input_terminated']).to.equal(true);
    expect(env['wsgi.version']).to.deep.equal([1, 0]);
  });

  it('unfolds obsolete line folding into one space', async () => {
    const ex = await send(srv.port, `GET / HTTP/1.1\r\n${H}Foo: a\r\n   b\r\n\r\n`, { responses: 1 });
    expect(envOf(ex.responses[0]!.body).HTTP_FOO).to.equal('a b');
  });

  it('an absolute-form target\'s authority is the request\'s host, whatever the Host field says (RFC 9112 section 3.2.2)', async () => {
    const ex = await send(srv.port, 'GET http://good.example:81/p?q=1 HTTP/1.1\r\nHost: evil.example\r\n\r\n', { responses: 1 });
    const env = envOf(ex.responses[0]!.body);
    expect([env.HTTP_HOST, env.PATH_INFO, env.QUERY_STRING, env.REQUEST_URI]).to.deep.equal(['good.example:81', '/p', 'q=1', 'http://good.example:81/p?q=1']);
  });

  it('another scheme\'s absolute-form authority does not replace the Host field', async () => {
    const ex = await send(srv.port, 'GET foo://evil.example/p HTTP/1.1\r\nHost: good.example\r\n\r\n', { responses: 1 });
    const env = envOf(ex.responses[0]!.body);
    expect([env.HTTP_HOST, env.PATH_INFO]).to.deep.equal(['good.example', '/p']);
  });

  it('serves HTTP/1.2 as HTTP/1.1 and skips leading empty lines', async () => {
    const ex = await send(srv.port, `\r\n\r\nGET / HTTP/1.2\r\n${H}\r\n`, { responses: 1 });
    expect(ex.responses[0]!.version).to.equal('HTTP/1.1');
    expect(envOf(ex.responses[0]!.body).SERVER_PROTOCOL).to.equal('HTTP/1.1');
  });

  it('answers 25 pipelined HTTP/1.0 keep-alive requests sent in one write, in order', async () => {
    let data = '';
    for (let i = 0; i < 25; i++) {
      const body = `Response #${i}\r\n`;
      data += `GET /${i} HTTP/1.0\r\nConnection: ${i === 24 ? 'close' : 'keep-alive'}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    }
    const ex = await send(srv.port, data);
    expect(ex.responses).to.have.length(25);
    ex.responses.forEach((res, i) => {
      expect(envOf(res.body).PATH_INFO).to.equal(`/${i}`);
      expect(envOf(res.body).body_sha256).to.equal(sha(`Response #${i}\r\n`));
    });
    expect(ex.closed).to.equal(true);
  });

  it('survives a long synchronous pipeline (no recursion per request)', async () => {
    const ex = await send(srv.port, get('/').repeat(3000) + get('/last', 'Connection: close\r\n'));
    expect(ex.responses).to.have.length(3001);
  });

  it('parses the same request split at every byte boundary', async () => {
    const request = `POST /split?q=1 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3;e=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n`;
    for (let cut = 1; cut < request.length; cut += 7) {
      const ex = await send(srv.port, [request.slice(0, cut), request.slice(cut)], { pieceDelay: 1 });
      const env = envOf(ex.responses[0]!.body);
      expect(env.body_sha256, `cut at ${cut}`).to.equal(sha('abcde'));
      expect(env.QUERY_STRING).to.equal('q=1');
    }
  });

  it('a client half-close still gets every pipelined response (Q31 fixed)', async () => {
    const ex = await send(srv.port, get('/a') + get('/b'), { end: true });
    expect(ex.responses.map((r) => envOf(r.body).PATH_INFO)).to.deep.equal(['/a', '/b']);
    expect(ex.closed).to.equal(true);
  });
});

describe('a wsgi.input kept past its request', () => {
  it('throws InputClosedError on the next request, with a body or without one', async () => {
    let kept: Environ['wsgi.input'] | null = null;
    const srv = await startServer((environ, startResponse) => {
      let answer = 'kept';
      if (kept === null) {
        kept = environ['wsgi.input'];
      } else {
        try {
          kept.read();
          answer = 'read';
        } catch (err) {
          answer = (err as Error).name;
        }
        kept = null;
      }
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      return [Buffer.from(answer)];
    });
    try {
      const post = `POST /a HTTP/1.1\r\n${H}Content-Length: 2\r\n\r\nhi`;
      for (const first of [get('/no-body'), post]) {
        const ex = await send(srv.port, first + get('/second'), { responses: 2 });
        expect(ex.responses.map((r) => r.body.toString()), first).to.deep.equal(['kept', 'InputClosedError']);
      }
    } finally {
      await srv.close();
    }
  });
});

describe('Expect: 100-continue', () => {
  let srv: Running;
  before(async () => {
    srv = await startServer(echo);
  });
  after(() => srv.close());

  it('sends 100 Continue once the head is in, then the final response', async () => {
    const ex = await send(srv.port, [`POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`, 'hello'], { responses: 2, pieceDelay: 50 });
    expect(ex.raw.toString('latin1')).to.match(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(envOf(ex.responses[1]!.body).body_sha256).to.equal(sha('hello'));
  });

  it('sends 100 Continue even when the body came with the head, as Waitress does, and only once', async () => {
    const ex = await send(srv.port, `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nExpect: 100-continue\r\n\r\nhello` + get('/after'), { responses: 3 });
    expect(ex.raw.toString('latin1')).to.match(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(ex.raw.toString('latin1').match(/100 Continue/g)).to.have.length(1);
    expect(envOf(ex.responses[1]!.body).body_sha256).to.equal(sha('hello'));
    expect(envOf(ex.responses[2]!.body).PATH_INFO).to.equal('/after');
  });

  it('sends 100 Continue when 100-continue is one member of an Expect list, or Expect is repeated', async () => {
    for (const fields of ['Expect: x-other, 100-continue\r\n', 'Expect: 100-continue\r\nExpect: 100-continue\r\n']) {
      const ex = await send(srv.port, [`POST / HTTP/1.1\r\n${H}Content-Length: 5\r\n${fields}\r\n`, 'hello'], { responses: 2, pieceDelay: 50 });
      expect(ex.raw.toString('latin1'), fields).to.match(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    }
  });

  it('a body-less Expect request is dispatched normally (Q3 fixed)', async () => {
    const ex = await send(srv.port, `GET / HTTP/1.1\r\n${H}Expect: 100-continue\r\n\r\n` + get('/second'), { responses: 2 });
    expect(ex.responses.map((r) => r.status)).to.deep.equal([200, 200]);
    expect(envOf(ex.responses[1]!.body).PATH_INFO).to.equal('/second');
  });

  it('HTTP/1.0 never gets a 100', async () => {
    const ex = await send(srv.port, `POST / HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi`);
    expect(ex.raw.toString('latin1')).to.match(/^HTTP\/1\.0 200 OK/);
  });
});

describe('size limits', () => {
  let srv: Running;
  let seen: string[] = [];
  const recorder: App = (environ, startResponse) => {
    const input = environ['wsgi.input'];
    seen.push(`${environ.PATH_INFO}:${input.read().length}`);
    startResponse('200 OK', [['Content-Length', '2']]);
    return [Buffer.from('ok')];
  };
  before(async () => {
    srv = await startServer(recorder, { maxRequestHeaderSize: 1000, maxRequestBodySize: 1000 });
  });
  beforeEach(() => {
    seen = [];
  });
  after(() => srv.close());

  it('431 for a head at the limit, as HTTP/1.0, and the server keeps serving', async () => {
    const ex = await send(srv.port, `GET / HTTP/1.1\r\n${H}${'X-Random-Header: 100\r\n'.repeat(52)}\r\n`);
    const res = ex.responses[0]!;
    expect(res.statusLine).to.equal('HTTP/1.0 431 Request Header Fields Too Large');
    expect(res.body.toString()).to.contain('exceeds max_header of 1000');
    expect(ex.closed).to.equal(true);
    expect((await send(srv.port, get('/'), { responses: 1 })).responses[0]!.status).to.equal(200);
  });

  it('431 while the head is still arriving (no terminator yet)', async () => {
    const ex = await send(srv.port, `GET / HTTP/1.1\r\n${H}X: ${'a'.repeat(2000)}`);
    expect(ex.responses[0]!.status).to.equal(431);
  });

  it('413 for Content-Length at the limit, decided before the body is read', async () => {
    const ex = await send(srv.port, `POST / HTTP/1.1\r\n${H}Content-Length: 1000\r\n\r\n`);
    expect(ex.responses[0]!.statusLine).to.equal('HTTP/1.1 413 Request Entity Too Large');
    expect(ex.responses[0]!.body.toString()).to.contain('exceeds max_body of 1000');
    expect(seen).to.deep.equal([]);
  });

  it('413 while the client still sends its body: the rest is read and dropped, then a clean FIN, not a reset (Q17)', async () => {
    // A proxy (Apache) sends the whole body before it reads the answer: the server must keep reading.
    const socket = net.connect(srv.port, '127.0.0.1');
    let response = '';
    let error: unknown = null;
    socket.on('data', (data: Buffer) => (response += data.toString('latin1')));
    socket.on('error', (err) => (error = err));
    const ended = new Promise((resolve) => socket.once('end', resolve));
    const body = Buffer.alloc(5 * 1024 * 1024, 0x78);
    socket.write(`POST /upload HTTP/1.1\r\n${H}Content-Length: ${body.length}\r\n\r\n`);
    // All 5 MiB go through only if the server reads them: kernel buffers hold far less.
    await new Promise<void>((resolve) => socket.write(body, () => resolve()));
    socket.end();
    await ended;
    expect(error).to.equal(null);
    expect(response).to.match(/^HTTP\/1\.1 413 Request Entity Too Large\r\n/);
    expect(seen).to.deep.equal([]);
  });

  it('413 for a chunked body past the limit (framing counted)', async () => {
    const chunks = `20;\r\n${'x'.repeat(32)}\r\n`.repeat(35);
    const ex = await send(srv.port, `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`);
    expect(ex.responses[0]!.status).to.equal(413);
    expect(seen).to.deep.equal([]);
  });

  it('a body under the limit is served, and bytes after it are the next request', async () => {
    const ex = await send(srv.port, `POST /a HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello` + get('/b'), { responses: 2 });
    expect(ex.responses.map((r) => r.status)).to.deep.equal([200, 200]);
    expect(seen).to.deep.equal(['/a:5', '/b:0']);
  });
});

describe('bodies past inbufOverflow', () => {
  it('spill to an unlinked temp file that the app reads synchronously, and nothing is left behind', async () => {
    const tmp = fs.readdirSync(os.tmpdir()).filter((f: string) => f.startsWith('garcon-body-')).length;
    let lines = 0;
    const app: App = (environ, startResponse) => {
      const input = environ['wsgi.input'];
      const first = input.readline();
      lines = 1 + input.readlines().length;
      input.seek(0);
      const all = input.read();
      const out = Buffer.from(`${first.length}:${all.length}:${sha(all)}`);
      startResponse('200 OK', [['Content-Length', String(out.length)]]);
      return [out];
    };
    const srv = await startServer(app, { inbufOverflow: 1024 });
    try {
      const body = 'line of text\n'.repeat(1000);
      const ex = await send(srv.port, `POST / HTTP/1.1\r\n${H}Content-Length: ${body.length}\r\n\r\n${body}`, { responses: 1 });
      expect(ex.responses[0]!.body.toString()).to.equal(`13:${body.length}:${sha(body)}`);
      expect(lines).to.equal(1000);
    } finally {
      await srv.close();
    }
    const after = fs.readdirSync(os.tmpdir()).filter((f: string) => f.startsWith('garcon-body-')).length;
    expect(after).to.equal(tmp);
  });

  it('an input kept past its request is closed: it cannot read the next request\'s body', async () => {
    // Both bodies spill; the second's temp file may get the descriptor number the first one had.
    let kept: Environ['wsgi.input'] | null = null;
    const app: App = (environ, startResponse) => {
      const input = environ['wsgi.input'];
      let out: string;
      if (kept === null) {
        kept = input;
        out = `first:${input.read().length}`;
      } else {
        try {
          kept.seek(0);
          out = `leaked:${kept.read(40).toString('latin1')}`;
        } catch (err) {
          out = `refused:${(err as { code?: string }).code}:${input.read(6).toString()}`;
        }
      }
      startResponse('200 OK', [['Content-Length', String(out.length)]]);
      return [Buffer.from(out)];
    };
    const srv = await startServer(app, { inbufOverflow: 100 });
    try {
      const first = 'a'.repeat(200);
      const second = 'SECRET'.repeat(40);
      const ex = await send(srv.port, `POST / HTTP/1.1\r\n${H}Content-Length: 200\r\n\r\n${first}` +
        `POST / HTTP/1.1\r\n${H}Content-Length: ${second.length}\r\n\r\n${second}`, { responses: 2 });
      expect(ex.responses.map((r) => r.body.toString())).to.deep.equal(['first:200', 'refused:GARCON_ERR_INPUT_CLOSED:SECRET']);
    } finally {
      await srv.close();
    }
  });
});
