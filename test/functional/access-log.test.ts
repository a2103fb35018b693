// The access log on the wire: one line per response, requests the parser
// refused included, with the client address the proxy stage reports.

import { expect } from 'chai';
import { app as echo } from '../../fixtures/echo.js';
import { get, send, startServer, type Running } from '../helpers/http.js';

describe('access log on the wire', () => {
  let srv: Running;
  before(async () => {
    srv = await startServer(echo, { accessLog: true, trustedProxy: '127.0.0.1', trustedProxyHeaders: 'x-forwarded-for' });
  });
  after(() => srv.close());

  const lines = () => srv.logger.messages('info').filter((m) => / \d{3} /.test(m) && m.endsWith('ms'));

  it('logs a served request in combined format with the proxied client address', async () => {
    await send(srv.port, get('/logged?q=1', 'X-Forwarded-For: 203.0.113.7\r\nUser-Agent: probe/1\r\n'), { responses: 1 });
    const line = lines().find((l) => l.includes('/logged'));
    expect(line).to.match(/^203\.0\.113\.7 - - \[[^\]]+\] "GET \/logged\?q=1 HTTP\/1\.1" 200 \d+ "-" "probe\/1" \d+\.\d{3}ms$/);
  });

  it('logs a request the parser refused, with what it could read of it', async () => {
    await send(srv.port, `POST /bad HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n`);
    await send(srv.port, `\x01garbage\r\n\r\n`);
    const all = lines();
    expect(all.some((l) => /^127\.0\.0\.1 - - \[[^\]]+\] "POST \/bad HTTP\/1\.1" 400 \d+ /.test(l)), all.join('\n')).to.equal(true);
    expect(all.some((l) => /^127\.0\.0\.1 - - \[[^\]]+\] "-" 400 \d+ /.test(l)), all.join('\n')).to.equal(true);
  });

  it('logs the request as received, whatever the app rewrites in its environ; the user is the app\'s to set', async () => {
    const rewriting = await startServer((environ, startResponse) => {
      Object.assign(environ, { REQUEST_METHOD: 'DELETE', REQUEST_URI: '/rewritten', SERVER_PROTOCOL: 'HTTP/9', HTTP_USER_AGENT: 'forged', REMOTE_ADDR: '6.6.6.6', REMOTE_USER: 'alice' });
      startResponse('200 OK', [['Content-Length', '2']]);
      return [Buffer.from('ok')];
    }, { accessLog: true });
    try {
      await send(rewriting.port, get('/as-sent', 'User-Agent: probe/2\r\n'), { responses: 1 });
      const line = rewriting.logger.messages('info').find((m) => m.endsWith('ms'));
      expect(line).to.match(/^127\.0\.0\.1 - alice \[[^\]]+\] "GET \/as-sent HTTP\/1\.1" 200 2 "-" "probe\/2" /);
    } finally {
      await rewriting.close();
    }
  });

  it('times a request from its first bytes: a body arriving slowly is part of its response time', async () => {
    await send(srv.port, [`POST /slow-body HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab`, 'cd'], { responses: 1, pieceDelay: 300 });
    const line = lines().find((l) => l.includes('/slow-body'));
    const ms = Number(/ (\d+\.\d{3})ms$/.exec(line ?? '')?.[1]);
    expect(ms, line).to.be.at.least(250);
  });

  it('an access log that cannot be written (disk full) costs no request: every one is answered', async () => {
    const full = await startServer(echo, { accessLog: '/dev/full', threads: 1 });
    try {
      const ex = await send(full.port, Array.from({ length: 6 }, (_, i) => get(`/${i}`)).join(''), { responses: 6, timeout: 5000 });
      expect(ex.responses.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200, 200]);
      const refused = await send(full.port, 'GET / HTTP/1.1\r\n\r\n', { timeout: 5000 });
      expect(refused.responses[0]?.status).to.equal(400);
      expect(full.logger.messages('error').filter((m) => m.startsWith('Cannot write the access log'))).to.have.length(1);
    } finally {
      await full.close();
    }
  });
});
