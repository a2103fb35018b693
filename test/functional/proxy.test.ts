// The adjustment pipeline on the wire: trusted proxy headers, refused malformed
// ones (400, closed, server keeps serving), untrusted ones cleared, url_prefix,
// and hop-by-hop headers kept from the app.

import { expect } from 'chai';
import { app as echo } from '../../fixtures/echo.js';
import { get, send, startServer, type Running } from '../helpers/http.js';

const envOf = (body: Buffer) => JSON.parse(body.toString()) as Record<string, unknown>;

describe('adjustment pipeline on the wire', () => {
  let trusted: Running;
  let plain: Running;
  before(async () => {
    trusted = await startServer(echo, {
      trustedProxy: '127.0.0.1',
      trustedProxyHeaders: 'x-forwarded-for x-forwarded-proto x-forwarded-host x-forwarded-port',
      urlPrefix: '/app',
    });
    plain = await startServer(echo);
  });
  after(() => Promise.all([trusted.close(), plain.close()]));

  it('a trusted proxy sets the client address, scheme, host and port; the prefix is split off', async () => {
    const ex = await send(trusted.port, get('/app/page', 'X-Forwarded-For: 203.0.113.9, 198.51.100.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: example.com\r\nX-Forwarded-Port: 8443\r\n'), { responses: 1 });
    const env = envOf(ex.responses[0]!.body);
    expect(env).to.include({
      REMOTE_ADDR: '198.51.100.7', 'wsgi.url_scheme': 'https', HTTP_HOST: 'example.com:8443', SERVER_NAME: 'example.com',
      SERVER_PORT: '8443', SCRIPT_NAME: '/app', PATH_INFO: '/page', HTTP_X_FORWARDED_FOR: '198.51.100.7',
    });
  });

  it('a non-ASCII urlPrefix matches the percent-encoded UTF-8 path a browser sends', async () => {
    const srv = await startServer(echo, { urlPrefix: '/caf\u00e9' });
    try {
      const ex = await send(srv.port, get('/caf%C3%A9/menu') + get('/cafe/menu'), { responses: 2 });
      const [inside, outside] = ex.responses.map((r) => envOf(r.body));
      expect([inside!.SCRIPT_NAME, inside!.PATH_INFO]).to.deep.equal(['/caf\u00c3\u00a9', '/menu']);
      expect(outside!.PATH_INFO).to.equal('/cafe/menu');
    } finally {
      await srv.close();
    }
  });

  const malformed = [
    ['X-Forwarded-Proto', 'ftp'], ['X-Forwarded-Port', '80abc'], ['X-Forwarded-Port', '99999'], ['X-Forwarded-For', '"1.2.3.4'],
    ['X-Forwarded-For', '"1.2.3.4 fake"'], ['X-Forwarded-For', '1.2.3.4:0'], ['X-Forwarded-Host', 'evil.com/x'], ['X-Forwarded-Host', 'example.com:0'],
    ['X-Forwarded-Host', ':443'],
  ];
  for (const [header, value] of malformed) {
    it(`a malformed ${header} (${value}) from the trusted proxy is a 400, closed, and the server keeps serving`, async () => {
      const ex = await send(trusted.port, get('/app/', `${header}: ${value}\r\n`));
      expect(ex.responses[0]!.status).to.equal(400);
      expect(ex.responses[0]!.body.toString()).to.contain(`Header "${header}" malformed.`);
      expect(ex.closed).to.equal(true);
      expect(trusted.logger.messages('warn').some((m) => m.startsWith(`Malformed proxy header "${header}"`))).to.equal(true);
      const ok = await send(trusted.port, get('/app/'), { responses: 1 });
      expect(ok.responses[0]!.status).to.equal(200);
    });
  }

  it('with a list trust and a count of 2, a malformed entry left of an untrusted hop is dropped unread: 200', async () => {
    const srv = await startServer(echo, { trustedProxy: '127.0.0.1, 10.0.0.0/8', trustedProxyHeaders: 'x-forwarded-for', trustedProxyCount: 2 });
    try {
      const ex = await send(srv.port, get('/', 'X-Forwarded-For: "broken, 203.0.113.9\r\n'), { responses: 1 });
      expect(ex.responses[0]!.status).to.equal(200);
      expect(envOf(ex.responses[0]!.body)).to.include({ REMOTE_ADDR: '203.0.113.9', HTTP_X_FORWARDED_FOR: '203.0.113.9' });
    } finally {
      await srv.close();
    }
  });

  it('a HEAD request with a malformed proxy header gets the 400 head and no body', async () => {
    const ex = await send(trusted.port, 'HEAD /app/ HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: ftp\r\n\r\n');
    const raw = ex.raw.toString('latin1');
    expect(raw).to.match(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(raw.indexOf('\r\n\r\n') + 4, 'bytes after the head').to.equal(raw.length);
    expect(ex.closed).to.equal(true);
    const ok = await send(trusted.port, get('/app/'), { responses: 1 });
    expect(ok.responses[0]!.status).to.equal(200);
  });

  it('a Forwarded element naming a parameter twice, or more than 16, is a 400, closed, and the server keeps serving', async () => {
    const srv = await startServer(echo, { trustedProxy: '127.0.0.1', trustedProxyHeaders: 'forwarded' });
    try {
      const seventeen = ['for=192.0.2.1', ...Array.from({ length: 16 }, (_, i) => `p${i}=x`)].join(';');
      for (const value of ['for=192.0.2.1;for=198.51.100.2', seventeen]) {
        const ex = await send(srv.port, get('/', `Forwarded: ${value}\r\n`));
        expect(ex.responses[0]!.status, value).to.equal(400);
        expect(ex.responses[0]!.body.toString()).to.contain('Header "Forwarded" malformed.');
        expect(ex.closed).to.equal(true);
      }
      // Empty pairs are not parameters (RFC 7239: [pair] *(";" [pair])).
      const ok = await send(srv.port, get('/', `Forwarded: for=192.0.2.1${';'.repeat(30)}\r\n`), { responses: 1 });
      expect(envOf(ok.responses[0]!.body).REMOTE_ADDR).to.equal('192.0.2.1');
    } finally {
      await srv.close();
    }
  });

  it('proxy headers from a peer that is not trusted never reach the app (clearUntrustedProxyHeaders by default)', async () => {
    const ex = await send(plain.port, get('/', 'X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\nForwarded: for=5.6.7.8\r\n'), { responses: 1 });
    const env = envOf(ex.responses[0]!.body);
    expect(env.REMOTE_ADDR).to.equal('127.0.0.1');
    expect(env['wsgi.url_scheme']).to.equal('http');
    expect(env).to.not.have.any.keys('HTTP_X_FORWARDED_FOR', 'HTTP_X_FORWARDED_PROTO', 'HTTP_FORWARDED');
  });

  it('hop-by-hop headers and those the Connection header names are not passed to the app', async () => {
    const ex = await send(plain.port, get('/', 'Connection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: h2c\r\nX-Secret: 1\r\nX-Kept: 2\r\n'), { responses: 1 });
    const env = envOf(ex.responses[0]!.body);
    expect(env).to.not.have.any.keys('HTTP_CONNECTION', 'HTTP_KEEP_ALIVE', 'HTTP_TE', 'HTTP_UPGRADE', 'HTTP_X_SECRET');
    expect(env.HTTP_X_KEPT).to.equal('2');
  });
});
