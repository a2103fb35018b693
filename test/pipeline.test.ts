import { expect } from 'chai';
import sinon from 'sinon';
import { BadRequest, InvalidOptionError } from '../src/errors.js';
import { FieldFlag } from '../src/header-names.js';
import { buildPipeline, type PipelineOptions } from '../src/pipeline.js';
import type { Environ } from '../src/types.js';

function options(overrides: Partial<PipelineOptions> = {}): PipelineOptions {
  return {
    trustedProxy: '127.0.0.1',
    trustedProxyCount: 1,
    trustedProxyHeaders: new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port']),
    clearUntrustedProxyHeaders: true,
    logUntrustedProxyHeaders: false,
    logger: { debug: sinon.spy(), info: sinon.spy(), warn: sinon.spy(), error: sinon.spy() },
    urlPrefix: '/app',
    ...overrides,
  };
}

function environ(extra: Record<string, string> = {}): Environ {
  return {
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_HOST: '127.0.0.1',
    REMOTE_PORT: '40000',
    SERVER_NAME: 'garcon.invalid',
    SERVER_PORT: '8080',
    SCRIPT_NAME: '',
    PATH_INFO: '/app/page',
    HTTP_HOST: '127.0.0.1:8080',
    'wsgi.url_scheme': 'http',
    ...extra,
  } as unknown as Environ;
}

describe('adjustment pipeline', () => {
  it('runs proxy headers, url prefix and hop-by-hop stripping on one environ', () => {
    const adjust = buildPipeline(options());
    const env = environ({
      HTTP_X_FORWARDED_FOR: '203.0.113.5',
      HTTP_X_FORWARDED_PROTO: 'https',
      HTTP_X_FORWARDED_HOST: 'www.example.com',
      HTTP_CONNECTION: 'keep-alive',
      HTTP_KEEP_ALIVE: 'timeout=5',
    });
    adjust(env);
    expect(env).to.deep.equal({
      ...environ(),
      REMOTE_ADDR: '203.0.113.5',
      REMOTE_HOST: '203.0.113.5',
      SERVER_NAME: 'www.example.com',
      SERVER_PORT: '443',
      HTTP_HOST: 'www.example.com',
      'wsgi.url_scheme': 'https',
      SCRIPT_NAME: '/app',
      PATH_INFO: '/page',
      HTTP_X_FORWARDED_FOR: '203.0.113.5',
      HTTP_X_FORWARDED_PROTO: 'https',
      HTTP_X_FORWARDED_HOST: 'www.example.com',
    });
  });

  it('judges proxy headers before Connection can name them away', () => {
    const adjust = buildPipeline(options());
    const env = environ({ HTTP_X_FORWARDED_FOR: '203.0.113.5', HTTP_CONNECTION: 'X-Forwarded-For' });
    adjust(env);
    expect(env.REMOTE_ADDR).to.equal('203.0.113.5');
    expect(env).not.to.have.property('HTTP_X_FORWARDED_FOR');
  });

  it('a malformed proxy header stops the pipeline with a 400 before later stages run', () => {
    const adjust = buildPipeline(options());
    const env = environ({ HTTP_X_FORWARDED_PROTO: 'gopher', HTTP_CONNECTION: 'close' });
    expect(() => adjust(env)).to.throw(BadRequest, 'Header "X-Forwarded-Proto" malformed.');
    expect(env.SCRIPT_NAME).to.equal('');
    expect(env.HTTP_CONNECTION).to.equal('close');
  });

  it('with Waitress defaults only clears proxy headers and strips hop-by-hop ones', () => {
    const adjust = buildPipeline(options({ trustedProxy: null, trustedProxyHeaders: new Set(), urlPrefix: '' }));
    const env = environ({ HTTP_X_FORWARDED_PROTO: 'https', HTTP_UPGRADE: 'websocket' });
    adjust(env);
    expect(env).to.deep.equal(environ());
  });

  it('leaves an environ with nothing to adjust as it was', () => {
    const adjust = buildPipeline(options({ urlPrefix: '' }));
    const env = environ();
    adjust(env);
    expect(env).to.deep.equal(environ());
  });

  it('skips the stages whose headers the request did not carry (its fieldFlags)', () => {
    const adjust = buildPipeline(options());
    const extra = { HTTP_X_FORWARDED_PROTO: 'https', HTTP_UPGRADE: 'websocket' };
    const none = environ(extra);
    adjust(none, FieldFlag.None);
    expect(none).to.deep.equal({ ...environ(extra), SCRIPT_NAME: '/app', PATH_INFO: '/page' });
    const proxyOnly = environ(extra);
    adjust(proxyOnly, FieldFlag.Proxy);
    expect(proxyOnly['wsgi.url_scheme']).to.equal('https');
    expect(proxyOnly.HTTP_UPGRADE).to.equal('websocket');
    const hopOnly = environ(extra);
    adjust(hopOnly, FieldFlag.HopByHop);
    expect(hopOnly['wsgi.url_scheme']).to.equal('http');
    expect(hopOnly).not.to.have.property('HTTP_UPGRADE');
  });

  it('refuses unusable options when it is built, not per request', () => {
    expect(() => buildPipeline(options({ trustedProxy: 'not an address' }))).to.throw(InvalidOptionError);
    expect(() => buildPipeline(options({ urlPrefix: 'app' }))).to.throw(InvalidOptionError);
  });
});
