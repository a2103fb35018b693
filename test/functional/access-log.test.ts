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
});
