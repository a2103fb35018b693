import { expect } from 'chai';
import sinon from 'sinon';
import { BodyBuffer } from '../src/buffers.js';
import { buildEnviron, collapseLeadingSlashes, removeKeys } from '../src/environ.js';
import { fileWrapper } from '../src/file-wrapper.js';
import { ParsedRequest } from '../src/request.js';

function request(): ParsedRequest {
  const r = new ParsedRequest();
  r.method = 'POST';
  r.target = '//a/b%20c?q=1#f';
  r.path = '//a/b c';
  r.query = 'q=1';
  r.version = '1.1';
  r.headers.HTTP_HOST = 'example.com';
  r.headers.CONTENT_TYPE = 'text/plain';
  r.headers.CONTENT_LENGTH = '3';
  r.body = new BodyBuffer(1024);
  r.body.append(Buffer.from('abc'));
  return r;
}

const conn = { remoteAddr: '10.0.0.1', remotePort: '5555', serverPort: '8080', clientDisconnected: () => false };
const settings = { serverName: 'localhost', urlScheme: 'http', ident: 'garcon', multiprocess: false };

describe('buildEnviron', () => {
  it('fills every PEP 3333 key from the request and the connection', () => {
    const env = buildEnviron(request(), conn, settings);
    expect(env).to.include({
      REQUEST_METHOD: 'POST', SCRIPT_NAME: '', PATH_INFO: '/a/b c', QUERY_STRING: 'q=1',
      REQUEST_URI: '//a/b%20c?q=1#f', RAW_URI: '//a/b%20c?q=1#f', SERVER_NAME: 'localhost', SERVER_PORT: '8080',
      SERVER_PROTOCOL: 'HTTP/1.1', SERVER_SOFTWARE: 'garcon', REMOTE_ADDR: '10.0.0.1', REMOTE_HOST: '10.0.0.1',
      REMOTE_PORT: '5555', HTTP_HOST: 'example.com', CONTENT_TYPE: 'text/plain', CONTENT_LENGTH: '3',
      'wsgi.url_scheme': 'http', 'wsgi.input_terminated': true, 'wsgi.multithread': true, 'wsgi.multiprocess': false,
      'wsgi.run_once': false,
    });
    expect(env['wsgi.version']).to.deep.equal([1, 0]);
    // Shared by every request: an app that changes it must not change it for the next one.
    expect(Object.isFrozen(env['wsgi.version'])).to.equal(true);
    expect(env['wsgi.input'].read().toString()).to.equal('abc');
    expect(env['wsgi.file_wrapper']).to.equal(fileWrapper);
    expect(env['garcon.client_disconnected']()).to.equal(false);
    expect(typeof env['wsgi.errors'].write).to.equal('function');
    // PEP 3333's three methods; writelines adds no line ends of its own, as Python's does not.
    const stderr = sinon.stub(process.stderr, 'write').returns(true);
    try {
      env['wsgi.errors'].writelines(['a\n', 'b']);
      env['wsgi.errors'].flush();
    } finally {
      stderr.restore();
    }
    expect(stderr.args.map(([text]) => text)).to.deep.equal(['a\n', 'b']);
  });

  it('request header keys are strings to TypeScript (PEP 3333 native strings), absent ones undefined', () => {
    const env = buildEnviron(request(), conn, settings);
    // Compiles only while HTTP_* keys are typed string | undefined, not unknown.
    const host: string | undefined = env.HTTP_HOST;
    const agent: string | undefined = env.HTTP_USER_AGENT;
    expect([host, agent]).to.deep.equal(['example.com', undefined]);
  });

  it('keys are own enumerable properties (contract decision 2)', () => {
    const keys = Object.keys(buildEnviron(request(), conn, settings));
    expect(keys).to.include.members(['HTTP_HOST', 'CONTENT_TYPE', 'CONTENT_LENGTH', 'wsgi.input']);
  });

  it('HTTP/1.0, no ident and no body', () => {
    const r = new ParsedRequest();
    r.path = '/';
    const env = buildEnviron(r, conn, { ...settings, ident: null, multiprocess: true });
    expect(env.SERVER_PROTOCOL).to.equal('HTTP/1.0');
    expect(env.SERVER_SOFTWARE).to.equal('');
    expect(env['wsgi.multiprocess']).to.equal(true);
    expect(env['wsgi.input'].read().length).to.equal(0);
    expect(env).to.not.have.property('CONTENT_LENGTH');
  });
});

describe('collapseLeadingSlashes', () => {
  const cases: [string, string][] = [['///abc', '/abc'], ['//x//y', '/x//y'], ['/a', '/a'], ['', ''], ['*', '*'], ['/', '/'], ['//', '/']];
  for (const [input, output] of cases) {
    it(`${JSON.stringify(input)} -> ${JSON.stringify(output)}`, () => expect(collapseLeadingSlashes(input)).to.equal(output));
  }
});

describe('removeKeys', () => {
  function environWith(headers: Record<string, string>) {
    const r = new ParsedRequest();
    Object.assign(r.headers, headers);
    return buildEnviron(r, conn, settings);
  }

  it('removes keys from the middle and keeps the others in their order', () => {
    const env = environWith({ HTTP_HOST: 'h', HTTP_X_FORWARDED_FOR: '1.2.3.4', HTTP_ACCEPT: '*/*', HTTP_X_FORWARDED_PROTO: 'https', HTTP_USER_AGENT: 'ua' });
    const before = Object.keys(env);
    removeKeys(env, ['HTTP_X_FORWARDED_PROTO', 'HTTP_X_FORWARDED_FOR']);
    expect(Object.keys(env)).to.deep.equal(before.filter((k) => k !== 'HTTP_X_FORWARDED_FOR' && k !== 'HTTP_X_FORWARDED_PROTO'));
    expect(env).to.include({ HTTP_HOST: 'h', HTTP_ACCEPT: '*/*', HTTP_USER_AGENT: 'ua', REQUEST_METHOD: 'GET' });
    expect(env).to.not.have.property('HTTP_X_FORWARDED_FOR');
  });

  it('removes the last keys, and leaves the environ alone for keys it does not have', () => {
    const env = environWith({ HTTP_HOST: 'h', HTTP_X_FORWARDED_FOR: '1.2.3.4' });
    const before = Object.keys(env);
    removeKeys(env, ['HTTP_FORWARDED']);
    expect(Object.keys(env)).to.deep.equal(before);
    removeKeys(env, ['HTTP_X_FORWARDED_FOR', 'HTTP_FORWARDED']);
    expect(Object.keys(env)).to.deep.equal(before.slice(0, -1));
    expect(env.HTTP_HOST).to.equal('h');
  });

  it('keeps values the pipeline changed after the environ was built', () => {
    const env = environWith({ HTTP_X_FORWARDED_FOR: '1.2.3.4', HTTP_HOST: 'h' });
    env.REMOTE_ADDR = '1.2.3.4';
    env.HTTP_HOST = 'example.com';
    removeKeys(env, ['HTTP_X_FORWARDED_FOR']);
    expect(env).to.include({ REMOTE_ADDR: '1.2.3.4', HTTP_HOST: 'example.com' });
  });
});
