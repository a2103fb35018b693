// Applications that fail: an app that throws (500, server keeps serving), an
// iterable that throws half-way (the connection is closed, not left hanging),
// and an app that never ends (other requests are still served).

import { expect } from 'chai';
import type { App } from '../../src/types.js';
import { get, send, startServer } from '../helpers/http.js';

describe('faults: failing applications', () => {
  it('an app that throws gets 500, and the next request on a new connection is served', async () => {
    const app: App = (environ, startResponse) => {
      if (environ.PATH_INFO === '/boom') throw new Error('boom');
      startResponse('200 OK', [['Content-Length', '2']]);
      return [Buffer.from('ok')];
    };
    const srv = await startServer(app);
    try {
      const boom = await send(srv.port, get('/boom'), { responses: 1 });
      expect(boom.responses[0]?.status).to.equal(500);
      const ok = await send(srv.port, get('/'), { responses: 1 });
      expect(ok.responses[0]?.status).to.equal(200);
      expect(srv.logger.messages('error').some((m) => m.includes('/boom'))).to.equal(true);
    } finally {
      await srv.close();
    }
  });

  for (const framing of ['Content-Length', 'chunked'] as const) {
    it(`an iterable that throws half-way (${framing}): the connection closes with a short body`, async () => {
      const app: App = (_environ, startResponse) => {
        startResponse('200 OK', framing === 'Content-Length' ? [['Content-Length', '10']] : []);
        return (function* () {
          yield Buffer.from('12345');
          throw new Error('half-way');
        })();
      };
      const srv = await startServer(app);
      try {
        const started = Date.now();
        const ex = await send(srv.port, get('/') + get('/second'), { timeout: 5000 });
        expect(ex.closed, 'connection left open').to.equal(true);
        expect(Date.now() - started).to.be.below(3000);
        expect(ex.raw.toString('latin1')).to.match(/^HTTP\/1\.1 200 /);
        expect(ex.raw.toString('latin1')).to.not.contain('/second');
        const raw = ex.raw.toString('latin1');
        if (framing === 'chunked') expect(raw.endsWith('0\r\n\r\n'), 'a truncated chunked body must not look complete').to.equal(false);
        else expect(raw.slice(raw.indexOf('\r\n\r\n') + 4)).to.equal('12345');
      } finally {
        await srv.close();
      }
    });
  }

  it('an app that never ends holds only its own request: others are served', async () => {
    const app: App = (environ, startResponse) => {
      startResponse('200 OK', []);
      if (environ.PATH_INFO === '/forever') {
        return (async function* () {
          yield Buffer.from('started');
          await new Promise(() => undefined);
        })();
      }
      return [Buffer.from('ok')];
    };
    const srv = await startServer(app, { threads: 2, shutdownTimeout: 1 });
    try {
      const forever = send(srv.port, get('/forever'), { timeout: 1500 });
      await new Promise((r) => setTimeout(r, 100));
      for (let i = 0; i < 5; i++) {
        const ok = await send(srv.port, get(`/ok${i}`), { responses: 1, timeout: 2000 });
        expect(ok.responses[0]?.status).to.equal(200);
      }
      const stuck = await forever;
      expect(stuck.raw.toString('latin1')).to.contain('started');
    } finally {
      await srv.close();
    }
  });

  it('close() cuts a request still running at shutdownTimeout, and says so in a warning', async () => {
    const app: App = (_environ, startResponse) => {
      startResponse('200 OK', []);
      return (async function* () {
        yield Buffer.from('started');
        await new Promise(() => undefined);
      })();
    };
    const srv = await startServer(app, { shutdownTimeout: 0.3 });
    const running = send(srv.port, get('/forever'), { timeout: 3000 });
    await new Promise((r) => setTimeout(r, 100));
    await srv.close();
    expect((await running).closed).to.equal(true);
    expect(srv.logger.messages('warn')).to.include('shutdownTimeout (0.3 s) reached: closing 1 connection(s) with requests still in flight');
  });
});
