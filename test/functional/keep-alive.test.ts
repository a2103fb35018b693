// Persistence and framing of responses on the wire: HTTP/1.0 and 1.1 keep-alive
// rules, chunked responses that stay alive, bodiless statuses, HEAD, Date/Server.

import { expect } from 'chai';
import { app as echo } from '../../fixtures/echo.js';
import { app as streaming } from '../../fixtures/streaming.js';
import { InvalidOptionError } from '../../src/errors.js';
import type { App } from '../../src/types.js';
import { get, send, startServer, type Running } from '../helpers/http.js';

/** Status and body chosen by the path: /204, /205, /304, /head-aware, /100-with-body, /list, /list2. */
const statusApp: App = (environ, startResponse) => {
  const path = String(environ.PATH_INFO);
  if (path === '/204' || path === '/205' || path === '/304') {
    startResponse(`${path.slice(1)} Nothing`, [['Content-Length', '5']]);
    return [Buffer.from('ignored')];
  }
  if (path === '/head-aware') {
    // As frameworks do: no body for HEAD, a streamed one (length unknown) for GET.
    startResponse('200 OK', [['Content-Type', 'text/plain']]);
    return environ.REQUEST_METHOD === 'HEAD' ? [] : (function* body() { yield Buffer.from('hello'); })();
  }
  if (path === '/list2') {
    startResponse('200 OK', []);
    return [Buffer.from('ab'), Buffer.from('cde')];
  }
  if (path === '/own-server') {
    startResponse('200 OK', [['Server', 'mine'], ['Content-Length', '0']]);
    return [];
  }
  startResponse('200 OK', []);
  return [Buffer.from('hello')];
};

describe('keep-alive and framing', () => {
  let echoServer: Running;
  let streamServer: Running;
  let statusServer: Running;

  before(async () => {
    echoServer = await startServer(echo);
    streamServer = await startServer(streaming);
    statusServer = await startServer(statusApp);
  });
  after(async () => {
    await Promise.all([echoServer.close(), streamServer.close(), statusServer.close()]);
  });

  it('HTTP/1.1 keeps the connection open by default and answers a second request', async () => {
    const ex = await send(echoServer.port, get('/one') + get('/two'), { responses: 2 });
    expect(ex.responses).to.have.length(2);
    expect(ex.responses[0]!.headers).to.not.have.property('connection');
    expect(JSON.parse(ex.responses[1]!.body.toString()).PATH_INFO).to.equal('/two');
  });

  it('HTTP/1.1 with Connection: close gets Connection: close and a closed socket', async () => {
    const ex = await send(echoServer.port, get('/', 'Connection: close\r\n'));
    expect(ex.responses[0]!.headers.connection).to.equal('close');
    expect(ex.closed).to.equal(true);
  });

  it('Connection is parsed as a token list (close among others)', async () => {
    const ex = await send(echoServer.port, get('/', 'Connection: foo, Close\r\n'));
    expect(ex.responses[0]!.headers.connection).to.equal('close');
    expect(ex.closed).to.equal(true);
  });

  it('HTTP/1.0 closes by default', async () => {
    const ex = await send(echoServer.port, 'GET / HTTP/1.0\r\n\r\n');
    expect(ex.responses[0]!.statusLine).to.equal('HTTP/1.0 200 OK');
    expect(ex.responses[0]!.headers.connection).to.equal('close');
    expect(ex.closed).to.equal(true);
  });

  it('HTTP/1.0 with keep-alive and a known length stays open with Connection: Keep-Alive', async () => {
    const ex = await send(echoServer.port, 'GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n');
    expect(ex.responses).to.have.length(2);
    expect(ex.responses[0]!.headers.connection).to.equal('Keep-Alive'); // Waitress's spelling, byte for byte
    expect(ex.responses[1]!.headers.connection).to.equal('close');
    expect(ex.closed).to.equal(true);
  });

  it('HTTP/1.0 keep-alive with an unknown length is close-delimited', async () => {
    const ex = await send(streamServer.port, 'GET /?n=3&size=4 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const res = ex.responses[0]!;
    expect(res.headers.connection).to.equal('close');
    expect(res.headers).to.not.have.property('content-length');
    expect(res.headers).to.not.have.property('transfer-encoding');
    expect(res.body.toString()).to.equal('000011112222');
    expect(ex.closed).to.equal(true);
  });

  it('HTTP/1.1 streams an unknown length chunked (uppercase hex) and keeps the connection alive', async () => {
    const ex = await send(streamServer.port, get('/?n=2&size=26') + get('/?n=1&size=1'), { responses: 2 });
    expect(ex.raw.toString('latin1')).to.contain('Transfer-Encoding: chunked\r\n');
    expect(ex.raw.toString('latin1')).to.contain('\r\n1A\r\n' + '0'.repeat(26) + '\r\n');
    expect(ex.responses[0]!.body.toString()).to.equal('0'.repeat(26) + '1'.repeat(26));
    expect(ex.responses[0]!.headers).to.not.have.property('connection');
    expect(ex.responses[1]!.body.toString()).to.equal('0');
  });

  it('an Array result gets a Content-Length even with several chunks (contract decision 4)', async () => {
    const ex = await send(statusServer.port, get('/list2'), { responses: 1 });
    expect(ex.responses[0]!.headers['content-length']).to.equal('5');
    expect(ex.responses[0]!.body.toString()).to.equal('abcde');
  });

  for (const code of ['204', '304']) {
    it(`${code} has no body, no Content-Length, no Transfer-Encoding, and keeps the connection`, async () => {
      const ex = await send(statusServer.port, get(`/${code}`) + get('/'), { responses: 2 });
      const res = ex.responses[0]!;
      expect(res.status).to.equal(Number(code));
      expect(res.headers).to.not.have.property('content-length');
      expect(res.headers).to.not.have.property('transfer-encoding');
      expect(ex.responses[1]!.statusLine).to.equal('HTTP/1.1 200 OK');
      expect(ex.responses[1]!.body.toString()).to.equal('hello');
      expect(statusServer.logger.messages('warn').some((m) => m.includes('may not contain a message-body'))).to.equal(true);
    });
  }

  it('HEAD gets the headers (with Content-Length) but never a body (Q1 fixed)', async () => {
    const ex = await send(echoServer.port, `HEAD / HTTP/1.1\r\nHost: x\r\n\r\n${get('/after')}`, { responses: 2, methods: ['HEAD', 'GET'] });
    expect(ex.responses[0]!.headers['content-length']).to.match(/^\d+$/);
    expect(ex.responses[0]!.body.length).to.equal(0);
    expect(JSON.parse(ex.responses[1]!.body.toString()).PATH_INFO).to.equal('/after');
  });

  it('205 has no body and says Content-Length: 0 (RFC 9110 section 15.3.6), keeping the connection', async () => {
    const ex = await send(statusServer.port, get('/205') + get('/'), { responses: 2 });
    expect(ex.responses[0]!.status).to.equal(205);
    expect(ex.responses[0]!.headers['content-length']).to.equal('0');
    expect(ex.responses[0]!.body.length).to.equal(0);
    expect(ex.responses[1]!.body.toString()).to.equal('hello');
  });

  it('HEAD to an app that leaves the body out gets no made-up Content-Length: 0, and stays alive', async () => {
    const head = 'HEAD /head-aware HTTP/1.1\r\nHost: x\r\n\r\n';
    const ex = await send(statusServer.port, head + get('/head-aware'), { responses: 2, methods: ['HEAD', 'GET'] });
    expect(ex.responses[0]!.headers).to.not.have.property('content-length');
    expect(ex.responses[0]!.headers).to.not.have.property('transfer-encoding');
    expect(ex.responses[1]!.headers['transfer-encoding']).to.equal('chunked');
    expect(ex.responses[1]!.body.toString()).to.equal('hello');
    const old = await send(statusServer.port, head.replace('1.1', '1.0').replace('\r\n\r\n', '\r\nConnection: keep-alive\r\n\r\n'), { responses: 1, methods: ['HEAD'] });
    expect(old.responses[0]!.headers).to.not.have.property('content-length');
    expect(old.responses[0]!.headers.connection).to.equal('Keep-Alive');
  });

  it('HEAD on a streamed response sends neither body nor chunked framing and stays alive', async () => {
    const ex = await send(streamServer.port, `HEAD /?n=2 HTTP/1.1\r\nHost: x\r\n\r\n${get('/?n=1&size=2')}`, { responses: 2, methods: ['HEAD', 'GET'] });
    expect(ex.responses[0]!.headers).to.not.have.property('transfer-encoding');
    expect(ex.responses[1]!.body.toString()).to.equal('00');
  });

  it('adds Date and Server: garcon; an app Server header is kept and Via added', async () => {
    const ex = await send(statusServer.port, get('/') + get('/own-server'), { responses: 2 });
    const [plain, own] = ex.responses;
    expect(plain!.headers.server).to.equal('garcon');
    expect(plain!.headers.date).to.match(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    expect(own!.headers.server).to.equal('mine');
    expect(own!.headers.via).to.equal('1.1 garcon'); // RFC 9110 section 7.6.3: protocol, then name
  });

  it('an ident with a product version: Server is the whole ident, Via its leading token', async () => {
    const versioned = await startServer(statusApp, { ident: 'garcon/0.1 (linux)' });
    try {
      const ex = await send(versioned.port, get('/') + get('/own-server'), { responses: 2 });
      expect(ex.responses[0]!.headers.server).to.equal('garcon/0.1 (linux)');
      expect(ex.responses[1]!.headers.via).to.equal('1.1 garcon');
    } finally {
      await versioned.close();
    }
  });

  it('refuses at start-up an ident that would write a header of its own (CR, LF) or is not visible ASCII', async () => {
    for (const ident of ['a\r\nX-Injected: 1', 'a\nb', 'caf\u00e9', ' lead', 'two  spaces', 'tab\there']) {
      let error: unknown = null;
      try {
        const started = await startServer(echo, { ident });
        await started.close();
      } catch (err) {
        error = err;
      }
      expect(error, JSON.stringify(ident)).to.be.instanceOf(InvalidOptionError).with.property('option', 'ident');
    }
  });

  it('ident "" suppresses the Server header and SERVER_SOFTWARE is empty', async () => {
    const quiet = await startServer(echo, { ident: '' });
    try {
      const ex = await send(quiet.port, get('/'), { responses: 1 });
      expect(ex.responses[0]!.headers).to.not.have.property('server');
      expect(JSON.parse(ex.responses[0]!.body.toString()).SERVER_SOFTWARE).to.equal('');
    } finally {
      await quiet.close();
    }
  });

  it('answers 40 connections whose pipelined requests arrive at once, each on its own connection and in order', async () => {
    // Answers read in one event-loop turn are partly written at its end (channel.ts, turnQueue).
    const exchanges = await Promise.all(Array.from({ length: 40 }, (_, c) =>
      send(echoServer.port, get(`/c${c}/1`) + get(`/c${c}/2`) + get(`/c${c}/3`), { responses: 3 })));
    exchanges.forEach((ex, c) => {
      expect(ex.responses.map((r) => JSON.parse(r.body.toString()).PATH_INFO)).to.deep.equal([`/c${c}/1`, `/c${c}/2`, `/c${c}/3`]);
    });
  });
});
