import { expect } from 'chai';
import sinon from 'sinon';
import { BadRequest, InvalidOptionError } from '../src/errors.js';
import { FieldFlag, HOP_BY_HOP_KEYS, PROXY_KEYS } from '../src/header-names.js';
import { buildPipeline, type PipelineOptions, type PipelineRequest } from '../src/pipeline.js';
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

/** What the parser would hand over for these fields: the environ's part and the request's flags and hop-by-hop fields. */
function arrive(fields: Record<string, string> = {}): [Environ, PipelineRequest] {
  const endToEnd: Record<string, string> = {};
  let hopFields: Record<string, string> | null = null;
  let fieldFlags = FieldFlag.None;
  for (const [key, value] of Object.entries(fields)) {
    if (HOP_BY_HOP_KEYS.includes(key)) {
      (hopFields ??= {})[key] = value;
      fieldFlags |= FieldFlag.HopByHop;
    } else {
      endToEnd[key] = value;
      if (PROXY_KEYS.includes(key)) fieldFlags |= FieldFlag.Proxy;
    }
  }
  return [environ(endToEnd), { fieldFlags, hopFields }];
}

describe('adjustment pipeline', () => {
  it('runs proxy headers, url prefix and hop-by-hop stripping on one environ', () => {
    const adjust = buildPipeline(options());
    const [env, request] = arrive({
      HTTP_X_FORWARDED_FOR: '203.0.113.5',
      HTTP_X_FORWARDED_PROTO: 'https',
      HTTP_X_FORWARDED_HOST: 'www.example.com',
      HTTP_CONNECTION: 'keep-alive',
      HTTP_KEEP_ALIVE: 'timeout=5',
    });
    adjust(env, request);
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
    const [env, request] = arrive({ HTTP_X_FORWARDED_FOR: '203.0.113.5', HTTP_CONNECTION: 'X-Forwarded-For' });
    adjust(env, request);
    expect(env.REMOTE_ADDR).to.equal('203.0.113.5');
    expect(env).not.to.have.property('HTTP_X_FORWARDED_FOR');
  });

  it('a malformed proxy header stops the pipeline with a 400 before later stages run', () => {
    const adjust = buildPipeline(options());
    const [env, request] = arrive({ HTTP_X_FORWARDED_PROTO: 'gopher', HTTP_CONNECTION: 'X-Private', HTTP_X_PRIVATE: 'p' });
    expect(() => adjust(env, request)).to.throw(BadRequest, 'Header "X-Forwarded-Proto" malformed.');
    expect(env.SCRIPT_NAME).to.equal('');
    expect(env.HTTP_X_PRIVATE).to.equal('p');
  });

  it('with Waitress defaults only clears proxy headers and strips what Connection names', () => {
    const adjust = buildPipeline(options({ trustedProxy: null, trustedProxyHeaders: new Set(), urlPrefix: '' }));
    const [env, request] = arrive({ HTTP_X_FORWARDED_PROTO: 'https', HTTP_CONNECTION: 'upgrade, x-hop', HTTP_X_HOP: '1' });
    adjust(env, request);
    expect(env).to.deep.equal(environ());
  });

  it('leaves an environ with nothing to adjust as it was', () => {
    const adjust = buildPipeline(options({ urlPrefix: '' }));
    const [env, request] = arrive();
    adjust(env, request);
    expect(env).to.deep.equal(environ());
  });

  it('skips the proxy stage for a request that carried no proxy header (its fieldFlags)', () => {
    const adjust = buildPipeline(options());
    // An environ claiming a proxy header the request's flags deny: the stage is not run.
    const env = environ({ HTTP_X_FORWARDED_PROTO: 'https' });
    adjust(env, { fieldFlags: FieldFlag.None, hopFields: null });
    expect(env).to.deep.equal({ ...environ({ HTTP_X_FORWARDED_PROTO: 'https' }), SCRIPT_NAME: '/app', PATH_INFO: '/page' });
    const [flagged, request] = arrive({ HTTP_X_FORWARDED_PROTO: 'https' });
    adjust(flagged, request);
    expect(flagged['wsgi.url_scheme']).to.equal('https');
  });

  it('refuses unusable options when it is built, not per request', () => {
    expect(() => buildPipeline(options({ trustedProxy: 'not an address' }))).to.throw(InvalidOptionError);
    expect(() => buildPipeline(options({ urlPrefix: 'app' }))).to.throw(InvalidOptionError);
  });
});
