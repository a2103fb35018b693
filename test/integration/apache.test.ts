// Apache httpd (Debian's apache2 with mod_proxy_http, started by the test) in
// front of garcon serving the echo fixture, with nginx/apache/garcon.conf as shipped.

import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { app as echo } from '../../fixtures/echo.js';
import { send, startServer, type Running } from '../helpers/http.js';
import {
  CLIENT_ADDRESS,
  PROXY_HEADERS,
  PUBLIC_HOST,
  ROOT,
  checkApacheSyntax,
  environOf,
  request,
  requestUrl,
  requireBinary,
  startApache,
  type Daemon,
} from './harness.js';

describe('Apache httpd in front of garcon (apache/garcon.conf)', function () {
  this.timeout(30_000);
  let garcon: Running | undefined;
  let proxy: Daemon | undefined;

  before(async function () {
    const apache = requireBinary(this, 'apache2');
    garcon = await startServer(echo, { trustedProxy: '127.0.0.1', trustedProxyCount: 1, trustedProxyHeaders: PROXY_HEADERS });
    proxy = await startApache(apache, { GARCON_UPSTREAM: `127.0.0.1:${garcon.port}` });
  });

  after(async () => {
    await proxy?.stop();
    await garcon?.close();
  });

  it('gives the app the public host and port, the scheme and the real client address', async () => {
    const { port } = proxy!;
    const environ = environOf(await request({ port, path: '/hello/world?x=1' }));
    expect(environ).to.include({
      REMOTE_ADDR: CLIENT_ADDRESS,
      HTTP_X_FORWARDED_FOR: CLIENT_ADDRESS,
      SERVER_NAME: PUBLIC_HOST,
      SERVER_PORT: String(port),
      HTTP_HOST: `${PUBLIC_HOST}:${port}`,
      'wsgi.url_scheme': 'http',
      PATH_INFO: '/hello/world',
      QUERY_STRING: 'x=1',
    });
    expect(requestUrl(environ)).to.equal(`http://${PUBLIC_HOST}:${port}/hello/world?x=1`);
  });

  it("does not let a client's own X-Forwarded-For or Forwarded choose REMOTE_ADDR", async () => {
    const environ = environOf(await request({
      port: proxy!.port,
      path: '/',
      headers: { 'X-Forwarded-For': '203.0.113.66', Forwarded: 'for=203.0.113.66' },
    }));
    expect(environ.REMOTE_ADDR).to.equal(CLIENT_ADDRESS);
    expect(environ.HTTP_X_FORWARDED_FOR).to.equal(CLIENT_ADDRESS);
    expect(environ).not.to.have.property('HTTP_FORWARDED');
  });

  it('does not let a client choose the scheme, host or port garcon reports', async () => {
    const { port } = proxy!;
    const environ = environOf(await request({
      port,
      path: '/',
      // mod_proxy_http appends its X-Forwarded-Host to the client's; garcon takes the trusted last hop.
      headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Port': '1' },
    }));
    expect(environ).to.include({
      'wsgi.url_scheme': 'http',
      SERVER_NAME: PUBLIC_HOST,
      SERVER_PORT: String(port),
      HTTP_HOST: `${PUBLIC_HOST}:${port}`,
      HTTP_X_FORWARDED_HOST: PUBLIC_HOST, // the port travels in X-Forwarded-Port
    });
  });

  it('does not let the port in a client\'s Host choose SERVER_PORT, and reports the real port when the Host has none', async () => {
    const { port } = proxy!;
    for (const host of [`${PUBLIC_HOST}:1`, PUBLIC_HOST]) {
      const environ = environOf(await request({ port, path: '/', host }));
      expect(environ, host).to.include({ SERVER_NAME: PUBLIC_HOST, SERVER_PORT: String(port), HTTP_HOST: `${PUBLIC_HOST}:${port}` });
    }
  });

  it('refuses a request for another host in its default vhost (403), so no forged Host reaches the app', async () => {
    const response = await request({ port: proxy!.port, path: '/', host: 'evil.example' });
    expect(response.status).to.equal(403);
    expect(response.body.toString()).not.to.contain('evil.example');
    // Without a Host (HTTP/1.0) mod_proxy_http would pass a client's X-Forwarded-Host on alone.
    const bare = await send(proxy!.port, 'GET / HTTP/1.0\r\nX-Forwarded-Host: evil.example:443\r\n\r\n');
    expect(bare.responses[0]?.status).to.equal(403);
  });

  it('does not let a client strip X-Forwarded-Proto/-Port by naming them in Connection', async () => {
    const { port } = proxy!;
    const environ = environOf(await request({ port, path: '/', headers: { Connection: 'close, X-Forwarded-Proto, X-Forwarded-Port' } }));
    expect(environ).to.include({ 'wsgi.url_scheme': 'http', SERVER_PORT: String(port), HTTP_X_FORWARDED_PORT: String(port) });
  });

  it('carries a request body intact', async () => {
    const body = randomBytes(4 * 1024 * 1024);
    const environ = environOf(await request({ port: proxy!.port, method: 'POST', path: '/upload', body })) as unknown as {
      body_length: number;
      body_sha256: string;
    };
    expect(environ.body_length).to.equal(body.length);
    expect(environ.body_sha256).to.equal(createHash('sha256').update(body).digest('hex'));
  });

  it('passes Expect: 100-continue on, and the client gets one 100 Continue and its answer, the body sent with the head or after the 100', async () => {
    for (const withHead of [true, false]) {
      const answer = await new Promise<string>((resolve) => {
        const socket = net.connect(proxy!.port, '127.0.0.1');
        let text = '';
        let sent = withHead;
        socket.on('data', (data: Buffer) => {
          text += data.toString('latin1');
          if (!sent && text.includes('100 Continue')) {
            sent = true;
            socket.write('hello');
          }
        });
        socket.on('close', () => resolve(text));
        socket.write(`POST /continue HTTP/1.1\r\nHost: ${PUBLIC_HOST}:${proxy!.port}\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n${withHead ? 'hello' : ''}`);
      });
      expect(answer.match(/^HTTP\/1\.1 100 Continue\r\n/gm), answer).to.have.length(1);
      expect(answer).to.match(/\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
      expect(answer).to.match(/"body_length": 5[,\n]/);
    }
  });

  it('reuses its backend connections: fewer garcon connections than requests', async () => {
    const requests = 20;
    const peerPorts = new Set<string>();
    for (let i = 0; i < requests; i++) {
      const environ = environOf(await request({ port: proxy!.port, path: `/keepalive/${i}` }));
      peerPorts.add(environ.REMOTE_PORT!);
    }
    // One child process with 8 threads: at most one pooled connection per thread.
    expect(peerPorts.size).to.be.at.most(8);
  });
});

describe("README's Apache example", () => {
  it('passes apache2 -t as it is printed (Apache has no trailing comments: one would be taken as arguments)', function () {
    const apache = requireBinary(this, 'apache2');
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const block = /^```apache\n([\s\S]*?)^```$/m.exec(readme)?.[1];
    expect(block, 'an ```apache block in README.md').to.be.a('string');
    const { ok, output } = checkApacheSyntax(apache, block!);
    expect(ok, output).to.equal(true);
  });
});
