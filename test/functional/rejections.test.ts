// Every rejected-input rule, on the wire: the bad bytes get the right status and
// detail, Connection: close, a closed socket, and the server keeps serving.

import { expect } from 'chai';
import { app as echo } from '../../fixtures/echo.js';
import type { App } from '../../src/types.js';
import { get, send, startServer, type Running } from '../helpers/http.js';

interface Case {
  name: string;
  bytes: string;
  status: number;
  detail?: string;
  /** HTTP version of the error status line. */
  version?: string;
}

const H = 'Host: x\r\n';
const cases: Case[] = [
  // Framing and bare line ends (CVE-2019-16785, contract decision 15).
  { name: 'bare LF ending a header line', bytes: `GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n`, status: 400, detail: 'Bare CR or LF' },
  { name: 'bare LF ending the request line', bytes: `GET / HTTP/1.1\nHost: a\r\n\r\n`, status: 400, detail: 'Bare CR or LF' },
  { name: 'bare CR in a header value', bytes: `GET / HTTP/1.1\r\n${H}Foo: a\rb\r\n\r\n`, status: 400, detail: 'Bare CR or LF' },
  { name: 'bare CR in the target', bytes: `GET /a\rb HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'CL smuggled behind a bare LF', bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 10\r\nX: x\nContent-Length: 0\r\n\r\n0123456789`, status: 400 },
  // Request line (PR 423, PR 170, Q10).
  { name: 'two spaces in the request line', bytes: `GET  / HTTP/1.1\r\n${H}\r\n`, status: 400, detail: 'Start line is invalid' },
  { name: 'TAB as a separator', bytes: `GET\t/ HTTP/1.1\r\n${H}\r\n`, status: 400, detail: 'Start line is invalid' },
  { name: 'lower-case HTTP', bytes: `GET / http/1.1\r\n${H}\r\n`, status: 400, detail: 'Start line is invalid' },
  { name: 'HTTP/1.1.1', bytes: `GET / HTTP/1.1.1\r\n${H}\r\n`, status: 400, detail: 'Start line is invalid' },
  { name: 'HTTP/.1.', bytes: `GET / HTTP/.1.\r\n${H}\r\n`, status: 400, detail: 'Start line is invalid' },
  { name: 'RTSP version', bytes: `GET /x RTSP/1.0\r\n${H}\r\n`, status: 400, detail: 'Start line is invalid' },
  { name: 'NUL in the method', bytes: `GE\x00T / HTTP/1.1\r\n${H}\r\n`, status: 400, detail: 'Start line is invalid' },
  { name: 'no version (HTTP/0.9 style)', bytes: `GET /\r\n\r\n`, status: 400 },
  { name: 'lower-case method', bytes: `get / HTTP/1.1\r\n${H}\r\n`, status: 400, detail: 'Malformed HTTP method "get"' },
  { name: 'HTTP/2.0', bytes: `GET / HTTP/2.0\r\n${H}\r\n`, status: 505 },
  { name: 'HTTP/0.9 with a version', bytes: `GET / HTTP/0.9\r\n${H}\r\n`, status: 505 },
  // Target.
  { name: 'non-ASCII target', bytes: `GET /\xd0 HTTP/1.1\r\n${H}\r\n`, status: 400, detail: 'Bad URI' },
  { name: 'malformed IPv6 authority (Q7)', bytes: `GET http://[::1/ HTTP/1.1\r\n${H}\r\n`, status: 400, detail: 'Bad URI' },
  // Header lines (issue 273, CVE-2019-16789, CVE-2020-5236).
  { name: 'space before the colon', bytes: `GET / HTTP/1.1\r\n${H}Content-Length : 5\r\n\r\n`, status: 400, detail: 'Invalid header' },
  { name: 'empty header name', bytes: `GET / HTTP/1.1\r\n${H}: a\r\n\r\n`, status: 400, detail: 'Invalid header' },
  { name: 'line without a colon', bytes: `GET / HTTP/1.1\r\n${H}Foo\r\n\r\n`, status: 400, detail: 'Invalid header' },
  { name: 'NUL in a value', bytes: `GET / HTTP/1.1\r\n${H}Foo: a\x00b\r\n\r\n`, status: 400, detail: 'Invalid header' },
  { name: 'DEL in a value', bytes: `GET / HTTP/1.1\r\n${H}Foo: a\x7fb\r\n\r\n`, status: 400, detail: 'Invalid header' },
  { name: 'VT before a value', bytes: `GET / HTTP/1.1\r\n${H}Foo: \x0bbar\r\n\r\n`, status: 400, detail: 'Invalid header' },
  { name: 'control byte in a name', bytes: `GET / HTTP/1.1\r\n${H}Fo\x01o: a\r\n\r\n`, status: 400, detail: 'Invalid header' },
  { name: 'VT before chunked', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\x0bchunked\r\n\r\n`, status: 400 },
  { name: 'fold as the first header line', bytes: `GET / HTTP/1.0\r\n Host: 0\r\n\r\n`, status: 400, detail: 'Malformed header line', version: '1.0' },
  { name: 'ReDoS-shaped value', bytes: `GET / HTTP/1.1\r\n${H}Foo: ${'a '.repeat(20000)}\x01\r\n\r\n`, status: 400, detail: 'Invalid header' },
  // Host (contract decision 11).
  { name: 'HTTP/1.1 without Host', bytes: `GET / HTTP/1.1\r\n\r\n`, status: 400 },
  { name: 'two Host headers', bytes: `GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n`, status: 400, detail: 'Duplicate header: host' },
  // RFC 9112 section 3.2: a Host that is not uri-host [":" port] (here, two merged by an upstream).
  { name: 'a Host with a space in it', bytes: `GET / HTTP/1.1\r\nHost: a, b\r\n\r\n`, status: 400, detail: 'Invalid Host header' },
  { name: 'a Host with userinfo', bytes: `GET / HTTP/1.1\r\nHost: evil@good\r\n\r\n`, status: 400, detail: 'Invalid Host header' },
  { name: 'a Host with a port and no host', bytes: `GET / HTTP/1.1\r\nHost: :80\r\n\r\n`, status: 400, detail: 'Invalid Host header' },
  { name: 'an absolute-form target with userinfo (RFC 9110 section 4.2.4)', bytes: `GET http://evil@good/ HTTP/1.1\r\n${H}\r\n`, status: 400, detail: 'Bad URI' },
  { name: 'an http URI without a host (RFC 9110 section 4.2.1)', bytes: `GET http:///x HTTP/1.1\r\n${H}\r\n`, status: 400, detail: 'Bad URI' },
  // Content-Length (CVE-2019-16792, CVE-2022-24761).
  { name: 'duplicate Content-Length', bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 1\r\n\r\nx`, status: 400, detail: 'Duplicate header: Content-Length' },
  { name: 'Content-Length list', bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 1, 1\r\n\r\nx`, status: 400, detail: 'Content-Length is invalid' },
  { name: 'Content-Length +1', bytes: `POST / HTTP/1.1\r\n${H}Content-Length: +1\r\n\r\nx`, status: 400, detail: 'Content-Length is invalid' },
  { name: 'Content-Length -1', bytes: `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, status: 400, detail: 'Content-Length is invalid' },
  { name: 'Content-Length 0x1', bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 0x1\r\n\r\nx`, status: 400, detail: 'Content-Length is invalid' },
  { name: 'Content-Length abc', bytes: `POST / HTTP/1.1\r\n${H}Content-Length: abc\r\n\r\n`, status: 400, detail: 'Content-Length is invalid', version: '1.1' },
  { name: 'duplicate Content-Type', bytes: `POST / HTTP/1.1\r\n${H}Content-Type: a\r\nContent-Type: b\r\n\r\n`, status: 400, detail: 'Duplicate header' },
  // Transfer-Encoding (CVE-2019-16786, CVE-2019-16789, Q5).
  { name: 'gzip, chunked', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, status: 501, detail: 'Transfer-Encoding requested is not supported.' },
  { name: 'chunked, gzip', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`, status: 501 },
  { name: 'identity with CL', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\nContent-Length: 1\r\n\r\nx`, status: 501 },
  { name: 'an empty Transfer-Encoding with CL', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\nContent-Length: 3\r\n\r\nabc`, status: 501 },
  { name: 'CONNECT, with TLS bytes after it', bytes: `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01\x00\x05hello`, status: 501, detail: 'CONNECT is not supported' },
  { name: 'folded gzip chunked', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n chunked\r\n\r\n0\r\n\r\n`, status: 501 },
  { name: 'NEL before chunked', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: \x85chunked\r\n\r\n0\r\n\r\n`, status: 501 },
  { name: 'NEL after chunked', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\x85\r\n\r\n0\r\n\r\n`, status: 501 },
  { name: 'Kelvin sign in chunked', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chun\xe2\x84\xaaed\r\n\r\n0\r\n\r\n`, status: 501 },
  { name: 'chunked twice', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`, status: 501, detail: 'Multiple chunked encodings requested' },
  { name: 'chunked on two lines', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: 501 },
  { name: 'Transfer-Encoding on HTTP/1.0 (Q5)', bytes: `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n0\r\n\r\n`, status: 400, version: '1.0' },
  // Chunked framing (CVE-2022-24761, Q6).
  { name: 'chunk size 0x5', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n`, status: 400, detail: 'Invalid chunk size' },
  { name: 'chunk size +5', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n`, status: 400, detail: 'Invalid chunk size' },
  { name: 'chunk size with a space', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n`, status: 400, detail: 'Invalid chunk size' },
  { name: 'chunk size ended by a bare LF', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n`, status: 400 },
  { name: 'LF before the CRLF of a size line (Q6)', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\n\r\nhello\r\n0\r\n\r\n`, status: 400 },
  { name: 'empty chunk extension value', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;a=\r\nhello\r\n0\r\n\r\n`, status: 400, detail: 'Invalid chunk extension' },
  { name: 'space in a chunk extension', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5; a=b\r\nhello\r\n0\r\n\r\n`, status: 400, detail: 'Invalid chunk extension' },
  { name: 'chunk data not followed by CRLF', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n`, status: 400, detail: 'Chunk not properly terminated' },
  { name: 'chunk data followed by a bare LF', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n`, status: 400, detail: 'Chunk not properly terminated' },
  { name: 'bare LF in a trailer', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nX: y\nZ: w\r\n\r\n`, status: 400 },
];

describe('rejected input on the wire', () => {
  let srv: Running;
  let called = 0;
  const counting: App = (environ, startResponse) => {
    called++;
    return echo(environ, startResponse);
  };
  before(async () => {
    srv = await startServer(counting);
  });
  after(() => srv.close());

  for (const c of cases) {
    it(`${c.name} -> ${c.status}, closed, and the server keeps serving`, async () => {
      const before = called;
      // A valid request pipelined behind the bad one must never be run.
      const ex = await send(srv.port, c.bytes + `POST /smuggled HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n`);
      expect(ex.responses, ex.raw.toString('latin1')).to.have.length(1);
      const res = ex.responses[0]!;
      expect(res.status).to.equal(c.status);
      if (c.version) expect(res.version).to.equal(`HTTP/${c.version}`);
      expect(res.headers.connection).to.equal('close');
      expect(res.headers['content-type']).to.equal('text/plain; charset=utf-8');
      expect(Number(res.headers['content-length'])).to.equal(res.body.length);
      expect(res.headers.server).to.equal('garcon');
      expect(res.headers).to.have.property('date');
      if (c.detail) expect(res.body.toString('latin1')).to.contain(c.detail);
      expect(res.body.toString('latin1')).to.match(/\(generated by garcon\)$/);
      expect(ex.closed).to.equal(true);
      expect(called).to.equal(before);
      const ok = await send(srv.port, get('/still-serving'), { responses: 1 });
      expect(ok.responses[0]!.status).to.equal(200);
    });
  }

  for (const [what, bytes, status] of [
    ['a bad Content-Length', `HEAD / HTTP/1.1\r\n${H}Content-Length: x\r\n\r\n`, '1.1 400'],
    // Field lines are checked before the request line (Waitress's order): HEAD is noted first.
    ['a malformed header line', `HEAD / HTTP/1.1\r\n${H}Bad Header: x\r\n\r\n`, '1.0 400'],
    ['a head over maxRequestHeaderSize', `HEAD / HTTP/1.1\r\n${H}X: ${'a'.repeat(300 * 1024)}\r\n\r\n`, '1.0 431'],
    ['lines ending in LF alone (refused before the head is complete)', 'HEAD / HTTP/1.1\nHost: x\n\n', '1.0 400'],
  ]) {
    it(`a HEAD request refused for ${what} gets the error head, with the page's Content-Length, and no body`, async () => {
      const ex = await send(srv.port, bytes!);
      const raw = ex.raw.toString('latin1');
      expect(raw.startsWith(`HTTP/${status} `), raw.slice(0, 20)).to.equal(true);
      expect(raw).to.match(/\r\nContent-Length: [1-9]\d*\r\n/);
      expect(raw.indexOf('\r\n\r\n') + 4, 'bytes after the head').to.equal(raw.length);
      expect(ex.closed).to.equal(true);
      const ok = await send(srv.port, get('/still-serving'), { responses: 1 });
      expect(ok.responses[0]!.status).to.equal(200);
    });
  }

  it('a HEAD request refused for a header line, its head split over two reads, gets no page body either', async () => {
    const ex = await send(srv.port, [`HEAD / HTTP/1.1\r\n${H}`, 'Bad Header: x\r\n\r\n'], { pieceDelay: 30 });
    const raw = ex.raw.toString('latin1');
    expect(raw.startsWith('HTTP/1.0 400 '), raw.slice(0, 20)).to.equal(true);
    expect(raw.indexOf('\r\n\r\n') + 4, 'bytes after the head').to.equal(raw.length);
    const ok = await send(srv.port, get('/still-serving'), { responses: 1 });
    expect(ok.responses[0]!.status).to.equal(200);
  });

  it('a request line longer than maxRequestHeaderSize gets 414 URI Too Long (RFC 9112 section 3), and the server keeps serving', async () => {
    for (const bytes of [`GET /${'a'.repeat(300 * 1024)} HTTP/1.1\r\n${H}\r\n`, `GET /${'a'.repeat(300 * 1024)}`]) {
      const ex = await send(srv.port, bytes);
      expect(ex.responses[0]!.statusLine).to.equal('HTTP/1.0 414 URI Too Long');
      expect(ex.responses[0]!.body.toString()).to.contain('the request line exceeds max_header of 262144');
      expect(ex.closed).to.equal(true);
    }
    const ok = await send(srv.port, get('/still-serving'), { responses: 1 });
    expect(ok.responses[0]!.status).to.equal(200);
  });

  it('a head whose lines all end in LF alone gets 400 at once, not at channelTimeout', async () => {
    const ex = await send(srv.port, 'GET / HTTP/1.1\nHost: a\n\n', { timeout: 2000 });
    expect(ex.responses.map((r) => r.status)).to.deep.equal([400]);
    expect(ex.responses[0]!.body.toString('latin1')).to.contain('Bare CR or LF');
    expect(ex.closed).to.equal(true);
    const ok = await send(srv.port, get('/still-serving'), { responses: 1 });
    expect(ok.responses[0]!.status).to.equal(200);
  });

  it('a bad request after good pipelined ones: the good ones are answered first, in order', async () => {
    const ex = await send(srv.port, get('/1') + get('/2') + `GET / HTTP/1.1\r\n${H}Foo : bar\r\n\r\n` + get('/3'));
    expect(ex.responses.map((r) => r.status)).to.deep.equal([200, 200, 400]);
    expect(ex.closed).to.equal(true);
  });

  it('Content-Length with chunked: the body is de-chunked, then the connection closes (Q4 fixed)', async () => {
    const ex = await send(srv.port, `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n` + get('/next'));
    expect(ex.responses).to.have.length(1);
    const env = JSON.parse(ex.responses[0]!.body.toString());
    expect(env.body_length).to.equal(5);
    expect(env.CONTENT_LENGTH).to.equal('5');
    expect(env).to.not.have.property('HTTP_TRANSFER_ENCODING');
    expect(ex.responses[0]!.headers.connection).to.equal('close');
    expect(ex.closed).to.equal(true);
  });

  it('with channelRequestLookahead, a request after an invalid one is never dispatched (CVE-2024-49768)', async () => {
    let runs = 0;
    const lookahead = await startServer((environ, startResponse) => {
      runs++;
      return echo(environ, startResponse);
    }, { channelRequestLookahead: 5 });
    try {
      const bad = `GET / HTTP/1.1\r\n${H}Content-length: -1\r\n\r\n`;
      const next = `POST / HTTP/1.1\r\n${H}Content-Length: 1\r\n\r\nx`;
      for (const pieces of [[bad + next], [bad, next]]) {
        const ex = await send(lookahead.port, pieces, { pieceDelay: 20 });
        expect(ex.responses.map((r) => r.status)).to.deep.equal([400]);
        expect(ex.closed).to.equal(true);
      }
      expect(runs).to.equal(0);
      expect((await send(lookahead.port, get('/'), { responses: 1 })).responses[0]!.status).to.equal(200);
    } finally {
      await lookahead.close();
    }
  });
});
