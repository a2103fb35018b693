// nginx (Debian's package, started by the test) in front of garcon serving the
// echo fixture, with the configurations shipped in nginx/templates/.

import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { prefixMiddleware } from '../../middleware/prefix.js';
import { createServer, type GarconServer } from '../../src/server.js';
import type { App } from '../../src/types.js';
import { app as echo } from '../../fixtures/echo.js';
import { bigDownload } from '../../fixtures/streaming.js';
import { recordingLogger, send, startServer, type Running } from '../helpers/http.js';
import {
  CLIENT_ADDRESS,
  PROXY_HEADERS,
  PUBLIC_HOST,
  environOf,
  makeCertificate,
  makeTempDir,
  removeTempDir,
  request,
  requestUrl,
  requireBinary,
  startNginx,
  type Daemon,
} from './harness.js';

/** A response head of `size` bytes of cookie: what a session cookie and a CSP come to. */
const bigHead: App = (environ, startResponse) => {
  const size = Number(new URLSearchParams(String(environ.QUERY_STRING)).get('size'));
  startResponse('200 OK', [['Set-Cookie', `session=${'c'.repeat(size)}`], ['Content-Length', '2']]);
  return [Buffer.from('ok')];
};

/** `/download?size=N` is the streaming fixture's big download, `/bighead?size=N` bigHead; every other path the echo app. */
const routes: App = (environ, startResponse) =>
  environ.PATH_INFO === '/download' ? bigDownload(environ, startResponse) :
  environ.PATH_INFO === '/bighead' ? bigHead(environ, startResponse) : echo(environ, startResponse);

/** garcon as the templates' comments tell to run it behind nginx on the same host. */
const BEHIND_NGINX = { trustedProxy: '127.0.0.1', trustedProxyCount: 1, trustedProxyHeaders: PROXY_HEADERS };

const MiB = 1024 * 1024;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('nginx in front of garcon', function () {
  this.timeout(30_000);
  let nginx: string;

  before(function () {
    nginx = requireBinary(this, 'nginx');
  });

  describe('over TCP with a keep-alive upstream (garcon-tcp.conf.template)', () => {
    let garcon: Running | undefined;
    let proxy: Daemon | undefined;

    before(async () => {
      garcon = await startServer(routes, BEHIND_NGINX);
      proxy = await startNginx(nginx, { template: 'garcon-tcp.conf.template', values: { GARCON_UPSTREAM: `127.0.0.1:${garcon.port}` } });
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
        REMOTE_HOST: CLIENT_ADDRESS,
        HTTP_X_FORWARDED_FOR: CLIENT_ADDRESS,
        SERVER_NAME: PUBLIC_HOST,
        SERVER_PORT: String(port),
        HTTP_HOST: `${PUBLIC_HOST}:${port}`,
        'wsgi.url_scheme': 'http',
        SCRIPT_NAME: '',
        PATH_INFO: '/hello/world',
        QUERY_STRING: 'x=1',
      });
      // The keep-alive settings are for the nginx-garcon hop, not for the app.
      expect(environ).not.to.have.property('HTTP_CONNECTION');
      expect(requestUrl(environ)).to.equal(`http://${PUBLIC_HOST}:${port}/hello/world?x=1`);
    });

    it("does not let a client's own X-Forwarded-For or Forwarded choose REMOTE_ADDR", async () => {
      const environ = environOf(await request({
        port: proxy!.port,
        path: '/',
        headers: { 'X-Forwarded-For': '203.0.113.66, 198.51.100.7', Forwarded: 'for=203.0.113.66' },
      }));
      expect(environ.REMOTE_ADDR).to.equal(CLIENT_ADDRESS);
      // garcon cut the list down to the one hop it trusts (trustedProxyCount 1).
      expect(environ.HTTP_X_FORWARDED_FOR).to.equal(CLIENT_ADDRESS);
      expect(environ).not.to.have.property('HTTP_FORWARDED');
    });

    it('does not let a client choose the scheme, host or port garcon reports', async () => {
      const environ = environOf(await request({
        port: proxy!.port,
        path: '/',
        headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Port': '1' },
      }));
      expect(environ).to.include({
        'wsgi.url_scheme': 'http',
        SERVER_NAME: PUBLIC_HOST,
        SERVER_PORT: String(proxy!.port),
        HTTP_HOST: `${PUBLIC_HOST}:${proxy!.port}`,
      });
    });

    it('never passes a request for another host on (444: closed unanswered), so no forged Host reaches the app', async () => {
      for (const host of ['evil.example', `127.0.0.1:${proxy!.port}`]) {
        let error: unknown;
        await request({ port: proxy!.port, path: '/', host }).catch((err: unknown) => {
          error = err;
        });
        expect(error, host).to.be.instanceOf(Error);
      }
      const ok = await request({ port: proxy!.port, path: '/' });
      expect(ok.status).to.equal(200);
    });

    it('sets X-Real-IP itself and drops the X-Forwarded-Server/-Scheme/-Prefix/-Ssl a client sent', async () => {
      const environ = environOf(await request({
        port: proxy!.port,
        path: '/',
        headers: {
          'X-Real-IP': '203.0.113.66',
          'X-Forwarded-Server': 'evil.example',
          'X-Forwarded-Scheme': 'https',
          'X-Forwarded-Prefix': '/evil',
          'X-Forwarded-Ssl': 'on',
        },
      }));
      expect(environ.HTTP_X_REAL_IP).to.equal(CLIENT_ADDRESS);
      expect(environ).not.to.have.any.keys('HTTP_X_FORWARDED_SERVER', 'HTTP_X_FORWARDED_SCHEME', 'HTTP_X_FORWARDED_PREFIX', 'HTTP_X_FORWARDED_SSL');
    });

    it('reuses its upstream connections: far fewer garcon connections than requests', async () => {
      const requests = 40;
      const peerPorts = new Set<string>();
      for (let i = 0; i < requests; i++) {
        // A new client connection each time: only nginx's upstream pool can explain reuse.
        const environ = environOf(await request({ port: proxy!.port, path: `/keepalive/${i}` }));
        expect(environ.PATH_INFO).to.equal(`/keepalive/${i}`);
        peerPorts.add(environ.REMOTE_PORT!);
      }
      expect(peerPorts.size).to.be.at.most(3);
    });

    it('answers pipelined requests, GETs and a POST with a body, in order', async () => {
      const count = 20;
      const pieces: string[] = [];
      for (let i = 0; i < count; i++) {
        pieces.push(i === 10
          ? `POST /pipelined/${i} HTTP/1.1\r\nHost: ${PUBLIC_HOST}\r\nContent-Length: 5\r\n\r\nhello`
          : `GET /pipelined/${i} HTTP/1.1\r\nHost: ${PUBLIC_HOST}\r\n\r\n`);
      }
      const exchange = await send(proxy!.port, pieces.join(''), { responses: count, timeout: 10_000 });
      expect(exchange.responses).to.have.length(count);
      exchange.responses.forEach((response, i) => {
        expect(response.status).to.equal(200);
        const environ = JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;
        expect(environ.PATH_INFO).to.equal(`/pipelined/${i}`);
        expect(environ.body_length).to.equal(i === 10 ? 5 : 0);
      });
    });

    it('carries a 50 MiB upload intact', async () => {
      const body = randomBytes(50 * MiB);
      const environ = environOf(await request({
        port: proxy!.port,
        method: 'POST',
        path: '/upload',
        body,
        headers: { 'Content-Type': 'application/octet-stream' },
        timeout: 25_000,
      })) as unknown as { body_length: number; body_sha256: string };
      expect(environ.body_length).to.equal(body.length);
      expect(environ.body_sha256).to.equal(sha256(body));
    });

    it('carries a 50 MiB download intact', async () => {
      const size = 50 * MiB;
      const response = await request({ port: proxy!.port, path: `/download?size=${size}`, timeout: 25_000 });
      expect(response.status).to.equal(200);
      expect(response.body.length).to.equal(size);
      expect(sha256(response.body)).to.equal(sha256(Buffer.alloc(size, 'x')));
    });

    it('passes a 12 KiB response head on (nginx\'s own 4 KiB buffer would answer 502)', async () => {
      const response = await request({ port: proxy!.port, path: '/bighead?size=12000' });
      expect(response.status).to.equal(200);
      expect(response.headers['set-cookie']).to.deep.equal([`session=${'c'.repeat(12000)}`]);
    });

    it('left nothing in garcon\'s log: no refused request, no broken upstream connection', () => {
      expect(garcon!.logger.records.filter((r) => r.level === 'warn' || r.level === 'error')).to.deep.equal([]);
    });
  });

  describe('over a unix socket (garcon-unix.conf.template)', () => {
    let dir: string | undefined;
    let garcon: GarconServer | undefined;
    let proxy: Daemon | undefined;

    before(async () => {
      dir = makeTempDir('unix');
      const socket = path.join(dir, 'garcon.sock');
      garcon = createServer(echo, { ...BEHIND_NGINX, trustedProxy: 'unix', unixSocket: socket, logger: recordingLogger() });
      await garcon.listen();
      proxy = await startNginx(nginx, { template: 'garcon-unix.conf.template', values: { GARCON_SOCKET: socket } });
    });

    after(async () => {
      await proxy?.stop();
      await garcon?.close();
      removeTempDir(dir);
    });

    it('gives the app the public host and port and the real client address', async () => {
      const { port } = proxy!;
      const environ = environOf(await request({ port, path: '/over/unix' }));
      expect(environ).to.include({
        REMOTE_ADDR: CLIENT_ADDRESS,
        SERVER_NAME: PUBLIC_HOST,
        SERVER_PORT: String(port),
        HTTP_HOST: `${PUBLIC_HOST}:${port}`,
        'wsgi.url_scheme': 'http',
        PATH_INFO: '/over/unix',
      });
    });

    it("does not let a client's own X-Forwarded-For choose REMOTE_ADDR", async () => {
      const environ = environOf(await request({ port: proxy!.port, path: '/', headers: { 'X-Forwarded-For': '203.0.113.66' } }));
      expect(environ.REMOTE_ADDR).to.equal(CLIENT_ADDRESS);
    });
  });

  describe('terminating TLS (garcon-tls.conf.template)', () => {
    let garcon: Running | undefined;
    let proxy: Daemon | undefined;
    let ca = '';

    before(async () => {
      garcon = await startServer(echo, BEHIND_NGINX);
      proxy = await startNginx(nginx, {
        template: 'garcon-tls.conf.template',
        values: { GARCON_UPSTREAM: `127.0.0.1:${garcon.port}` },
        prepare: (nginxDir) => {
          const { cert, key } = makeCertificate(nginxDir, PUBLIC_HOST);
          ca = fs.readFileSync(cert, 'utf8');
          return { NGINX_SSL_CERTIFICATE: cert, NGINX_SSL_CERTIFICATE_KEY: key };
        },
      });
    });

    after(async () => {
      await proxy?.stop();
      await garcon?.close();
    });

    it('gives the app https, the public host and port and the real client address', async () => {
      const { port } = proxy!;
      const environ = environOf(await request({ port, path: '/secure/page?q=a%20b', ca }));
      expect(environ).to.include({
        'wsgi.url_scheme': 'https',
        SERVER_NAME: PUBLIC_HOST,
        SERVER_PORT: String(port),
        HTTP_HOST: `${PUBLIC_HOST}:${port}`,
        REMOTE_ADDR: CLIENT_ADDRESS,
        PATH_INFO: '/secure/page',
      });
      expect(requestUrl(environ)).to.equal(`https://${PUBLIC_HOST}:${port}/secure/page?q=a%20b`);
    });

    it('keeps https when the client claims http in X-Forwarded-Proto', async () => {
      const environ = environOf(await request({ port: proxy!.port, path: '/', ca, headers: { 'X-Forwarded-Proto': 'http' } }));
      expect(environ['wsgi.url_scheme']).to.equal('https');
    });
  });

  describe('below a path prefix (garcon-prefix.conf.template)', () => {
    let withUrlPrefix: Running | undefined;
    let withMiddleware: Running | undefined;
    let proxy: Daemon | undefined;

    before(async () => {
      withUrlPrefix = await startServer(echo, { ...BEHIND_NGINX, urlPrefix: '/prefix' });
      // garcon has already applied the trusted X-Forwarded-* headers (with the port): the
      // middleware's own translation stays off (its default).
      withMiddleware = await startServer(prefixMiddleware(echo, { prefix: '/legacy' }), BEHIND_NGINX);
      proxy = await startNginx(nginx, {
        template: 'garcon-prefix.conf.template',
        values: {
          GARCON_UPSTREAM: `127.0.0.1:${withUrlPrefix.port}`,
          GARCON_MIDDLEWARE_UPSTREAM: `127.0.0.1:${withMiddleware.port}`,
        },
      });
    });

    after(async () => {
      await proxy?.stop();
      await withUrlPrefix?.close();
      await withMiddleware?.close();
    });

    it('splits SCRIPT_NAME and PATH_INFO with urlPrefix, and the app rebuilds the URL the client typed', async () => {
      const { port } = proxy!;
      const environ = environOf(await request({ port, path: '/prefix/articles/42?page=2' }));
      expect(environ).to.include({ SCRIPT_NAME: '/prefix', PATH_INFO: '/articles/42', REMOTE_ADDR: CLIENT_ADDRESS });
      expect(requestUrl(environ)).to.equal(`http://${PUBLIC_HOST}:${port}/prefix/articles/42?page=2`);
    });

    it('gives PATH_INFO "" for the prefix itself and "/" for the prefix with a slash', async () => {
      const bare = environOf(await request({ port: proxy!.port, path: '/prefix' }));
      expect(bare).to.include({ SCRIPT_NAME: '/prefix', PATH_INFO: '' });
      const slash = environOf(await request({ port: proxy!.port, path: '/prefix/' }));
      expect(slash).to.include({ SCRIPT_NAME: '/prefix', PATH_INFO: '/' });
    });

    it('leaves paths that only start with the prefix text to nginx (404, garcon never asked)', async () => {
      const response = await request({ port: proxy!.port, path: '/prefixed/page' });
      expect(response.status).to.equal(404);
      expect(response.headers.server).to.match(/^nginx/);
    });

    it('sends the path nginx matched: dot segments are resolved before garcon splits the prefix', async () => {
      const { port } = proxy!;
      expect(environOf(await request({ port, path: '/other/../prefix/a' }))).to.include({ SCRIPT_NAME: '/prefix', PATH_INFO: '/a' });
      expect(environOf(await request({ port, path: '/prefix/admin/../x?q=%20' }))).to.include({ PATH_INFO: '/x', QUERY_STRING: 'q=%20' });
      expect(environOf(await request({ port, path: '/prefix/a%20b' })).PATH_INFO).to.equal('/a b');
    });

    it('passes /legacy without its slash to the PrefixMiddleware app too (no redirect)', async () => {
      expect(environOf(await request({ port: proxy!.port, path: '/legacy' }))).to.include({ SCRIPT_NAME: '/legacy', PATH_INFO: '/' });
    });

    it('splits SCRIPT_NAME and PATH_INFO with PrefixMiddleware, and the app rebuilds the URL the client typed', async () => {
      const { port } = proxy!;
      const environ = environOf(await request({ port, path: '/legacy/old/page?id=7' }));
      expect(environ).to.include({
        SCRIPT_NAME: '/legacy',
        PATH_INFO: '/old/page',
        REMOTE_ADDR: CLIENT_ADDRESS,
        HTTP_HOST: `${PUBLIC_HOST}:${port}`,
      });
      expect(requestUrl(environ)).to.equal(`http://${PUBLIC_HOST}:${port}/legacy/old/page?id=7`);
    });
  });
});
