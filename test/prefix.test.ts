import { expect } from 'chai';
import { InvalidOptionError } from '../src/errors.js';
import type { App, Environ, StartResponse } from '../src/types.js';
import { prefixFilterFactory, prefixMiddleware, type PrefixOptions } from '../middleware/index.js';
import { send, startServer } from './helpers/http.js';

/** Run `environ` through the middleware and return what the app received. */
function seen(options: PrefixOptions, extra: Record<string, string> = {}): Environ {
  let received: Environ | null = null;
  const app: App = (environ) => {
    received = environ;
    return [];
  };
  const environ = {
    SCRIPT_NAME: '',
    PATH_INFO: '/',
    SERVER_NAME: 'garcon.invalid',
    SERVER_PORT: '8080',
    HTTP_HOST: 'backend:8080',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_HOST: '127.0.0.1',
    'wsgi.url_scheme': 'http',
    ...extra,
  } as unknown as Environ;
  const startResponse = (() => () => undefined) as StartResponse;
  void prefixMiddleware(app, options)(environ, startResponse);
  if (received === null) throw new Error('the app was not called');
  return received;
}

describe('prefixMiddleware', () => {
  describe('step 1-3: prefix, PATH_INFO and SCRIPT_NAME', () => {
    const cases: [string, string, string, string][] = [
      ['/james', '/james/x', '/james', '/x'],
      ['/james', '/james', '/james', '/'],
      ['/james', '/james/', '/james', '/'],
      ['/james', '/jamesbond', '/james', '/jamesbond'],
      ['/james', '/other', '/james', '/other'],
      ['/james/', '/james/x', '/james', '/x'],
      ['/a.c', '/abc/x', '/a.c', '/abc/x'],
      ['/a.c', '/a.c/x', '/a.c', '/x'],
      ['/', '/x', '', '/x'],
      ['/', '', '', '/'],
    ];
    for (const [prefix, path, scriptName, pathInfo] of cases) {
      it(`prefix ${prefix}: ${JSON.stringify(path)} -> ${JSON.stringify(scriptName)} + ${JSON.stringify(pathInfo)}`, () => {
        const env = seen({ prefix }, { PATH_INFO: path });
        expect([env.SCRIPT_NAME, env.PATH_INFO]).to.deep.equal([scriptName, pathInfo]);
      });
    }

    it('defaults to no prefix', () => {
      const env = seen({}, { PATH_INFO: '/x', SCRIPT_NAME: '/old' });
      expect([env.SCRIPT_NAME, env.PATH_INFO]).to.deep.equal(['', '/x']);
    });

    it('overwrites an existing SCRIPT_NAME', () => {
      expect(seen({ prefix: '/new' }, { SCRIPT_NAME: '/old', PATH_INFO: '/new/x' }).SCRIPT_NAME).to.equal('/new');
    });

    it('rejects a prefix without a leading slash', () => {
      expect(() => prefixMiddleware(() => [], { prefix: 'james' })).to.throw(InvalidOptionError).with.property('option', 'prefix');
    });

    it('matches PATH_INFO in its form: percent-decoded UTF-8 bytes, one char each, and sets SCRIPT_NAME so', () => {
      const cafe = Buffer.from('/café', 'utf8').toString('latin1'); // what '/caf%C3%A9' decodes to
      expect(seen({ prefix: '/café' }, { PATH_INFO: `${cafe}/a` })).to.include({ SCRIPT_NAME: cafe, PATH_INFO: '/a' });
      expect(seen({ prefix: '/caf%C3%A9' }, { PATH_INFO: `${cafe}/a` })).to.include({ SCRIPT_NAME: cafe, PATH_INFO: '/a' });
      expect(seen({ prefix: '/my%20app' }, { PATH_INFO: '/my app/a' })).to.include({ SCRIPT_NAME: '/my app', PATH_INFO: '/a' });
      // A latin-1 character is not its own byte: '/caf%E9' is not '/café'.
      expect(seen({ prefix: '/café' }, { PATH_INFO: '/caf\u00e9/a' })).to.include({ PATH_INFO: '/caf\u00e9/a' });
    });

    it('refuses options of the wrong type or unknown ones, naming them', () => {
      const bad: [Record<string, unknown>, string][] = [
        [{ prefix: 5 }, 'prefix'],
        [{ scheme: 1 }, 'scheme'],
        [{ forcePort: true }, 'forcePort'],
        [{ forcePort: 80.5 }, 'forcePort'],
        [{ translateForwardedServer: 'maybe' }, 'translateForwardedServer'],
        [{ translateForwardedServer: {} }, 'translateForwardedServer'],
        [{ forceport: 80 }, 'forceport'],
        [{ toString: 'x' }, 'toString'],
      ];
      for (const [options, option] of bad) {
        expect(() => prefixMiddleware(() => [], options as PrefixOptions), JSON.stringify(options))
          .to.throw(InvalidOptionError).with.property('option', option);
      }
      expect(() => prefixMiddleware(() => [], null as unknown as PrefixOptions)).to.throw(InvalidOptionError).with.property('option', 'options');
    });
  });

  describe('step 4: forwarded headers (translateForwardedServer: true)', () => {
    const on = { translateForwardedServer: true };

    it('is off by default: no header a client could send moves SERVER_NAME, HTTP_HOST or the scheme', () => {
      const headers = { HTTP_X_FORWARDED_SERVER: 'evil.example', HTTP_X_FORWARDED_SCHEME: 'https' };
      const env = seen({}, headers);
      expect([env.SERVER_NAME, env.HTTP_HOST, env['wsgi.url_scheme']]).to.deep.equal(['garcon.invalid', 'backend:8080', 'http']);
      expect(env).to.include(headers);
    });

    it('X-Forwarded-Server sets SERVER_NAME and HTTP_HOST from its last element (the nearest proxy\'s)', () => {
      const env = seen(on, { HTTP_X_FORWARDED_SERVER: 'client-sent.example, public.example ' });
      expect([env.SERVER_NAME, env.HTTP_HOST]).to.deep.equal(['public.example', 'public.example']);
      expect(env).not.to.have.property('HTTP_X_FORWARDED_SERVER');
    });

    it('X-Forwarded-Host sets HTTP_HOST only, over X-Forwarded-Server', () => {
      const env = seen(on, { HTTP_X_FORWARDED_SERVER: 'server.example', HTTP_X_FORWARDED_HOST: 'host.example:8443, x' });
      expect([env.SERVER_NAME, env.HTTP_HOST]).to.deep.equal(['server.example', 'host.example:8443']);
      expect(env).not.to.have.property('HTTP_X_FORWARDED_HOST');
    });

    it('X-Forwarded-For sets REMOTE_ADDR from its left-most hop, REMOTE_HOST untouched', () => {
      const env = seen(on, { HTTP_X_FORWARDED_FOR: '203.0.113.4, 10.0.0.2' });
      expect([env.REMOTE_ADDR, env.REMOTE_HOST]).to.deep.equal(['203.0.113.4', '127.0.0.1']);
      expect(env).not.to.have.property('HTTP_X_FORWARDED_FOR');
    });

    it('X-Forwarded-Scheme wins over X-Forwarded-Proto, which then stays', () => {
      const env = seen(on, { HTTP_X_FORWARDED_SCHEME: 'https', HTTP_X_FORWARDED_PROTO: 'http' });
      expect(env['wsgi.url_scheme']).to.equal('https');
      expect(env).not.to.have.property('HTTP_X_FORWARDED_SCHEME');
      expect(env.HTTP_X_FORWARDED_PROTO).to.equal('http');
    });

    it('X-Forwarded-Proto alone sets the scheme, lower-cased', () => {
      const env = seen(on, { HTTP_X_FORWARDED_PROTO: 'HTTPS' });
      expect(env['wsgi.url_scheme']).to.equal('https');
      expect(env).not.to.have.property('HTTP_X_FORWARDED_PROTO');
    });

    it('a scheme other than http/https is dropped, not used', () => {
      const env = seen(on, { HTTP_X_FORWARDED_SCHEME: 'javascript' });
      expect(env['wsgi.url_scheme']).to.equal('http');
      expect(env).not.to.have.property('HTTP_X_FORWARDED_SCHEME');
    });

    it("reads translateForwardedServer as garcon's options do: the string 'false' is false", () => {
      for (const off of ['false', 'no', '0', 0]) {
        const env = seen({ translateForwardedServer: off as unknown as boolean }, { HTTP_X_FORWARDED_HOST: 'evil.example' });
        expect(env.HTTP_HOST, String(off)).to.equal('backend:8080');
      }
      for (const on of ['true', 'yes', 1]) {
        expect(seen({ translateForwardedServer: on as unknown as boolean }, { HTTP_X_FORWARDED_HOST: 'public.example' }).HTTP_HOST, String(on)).to.equal('public.example');
      }
    });

    it('ignores an empty or malformed host element, and an empty client address', () => {
      for (const value of ['', ' ', 'evil,', 'a b', 'x/y']) {
        const env = seen(on, { HTTP_X_FORWARDED_SERVER: value, HTTP_X_FORWARDED_HOST: value.split('').reverse().join(''), HTTP_X_FORWARDED_FOR: ' , 1.2.3.4' });
        expect([env.SERVER_NAME, env.HTTP_HOST, env.REMOTE_ADDR], JSON.stringify(value)).to.deep.equal(['garcon.invalid', 'backend:8080', '127.0.0.1']);
        expect(env).not.to.have.property('HTTP_X_FORWARDED_SERVER');
      }
    });

    it('translateForwardedServer false leaves every header and key alone', () => {
      const headers = {
        HTTP_X_FORWARDED_SERVER: 's',
        HTTP_X_FORWARDED_HOST: 'h',
        HTTP_X_FORWARDED_FOR: '1.2.3.4',
        HTTP_X_FORWARDED_PROTO: 'https',
      };
      const env = seen({ translateForwardedServer: false }, headers);
      expect(env).to.include(headers);
      expect([env.SERVER_NAME, env.HTTP_HOST, env.REMOTE_ADDR, env['wsgi.url_scheme']])
        .to.deep.equal(['garcon.invalid', 'backend:8080', '127.0.0.1', 'http']);
    });
  });

  describe('step 5: forcePort', () => {
    it('a port replaces the one in HTTP_HOST and sets SERVER_PORT', () => {
      const env = seen({ forcePort: 8443 }, { HTTP_HOST: 'example.com:8080' });
      expect([env.HTTP_HOST, env.SERVER_PORT]).to.deep.equal(['example.com:8443', '8443']);
    });

    it("'' drops the port and uses the scheme's default", () => {
      const http = seen({ forcePort: '' }, { HTTP_HOST: 'example.com:8080' });
      expect([http.HTTP_HOST, http.SERVER_PORT]).to.deep.equal(['example.com', '80']);
      const https = seen({ forcePort: '', translateForwardedServer: true }, { HTTP_HOST: 'example.com:8080', HTTP_X_FORWARDED_PROTO: 'https' });
      expect([https.HTTP_HOST, https.SERVER_PORT]).to.deep.equal(['example.com', '443']);
    });

    it("'' with a forced scheme uses that scheme's port", () => {
      const env = seen({ forcePort: '', scheme: 'https' }, { HTTP_HOST: 'example.com' });
      expect([env.SERVER_PORT, env['wsgi.url_scheme']]).to.deep.equal(['443', 'https']);
    });

    it('keeps a bracketed IPv6 host whole', () => {
      expect(seen({ forcePort: 9000 }, { HTTP_HOST: '[2001:db8::1]:8080' }).HTTP_HOST).to.equal('[2001:db8::1]:9000');
      expect(seen({ forcePort: '' }, { HTTP_HOST: '[2001:db8::1]' }).HTTP_HOST).to.equal('[2001:db8::1]');
    });

    it('copes with an unclosed bracket', () => {
      expect(seen({ forcePort: 8000 }, { HTTP_HOST: '[::1' }).HTTP_HOST).to.equal('[::1:8000');
    });

    it('without a Host (HTTP/1.0) builds HTTP_HOST from SERVER_NAME, an IPv6 address in brackets', () => {
      expect(seen({ forcePort: 8443, scheme: 'https' }, { HTTP_HOST: '' }).HTTP_HOST).to.equal('garcon.invalid:8443');
      expect(seen({ forcePort: '' }, { HTTP_HOST: '', SERVER_NAME: '2001:db8::1' }).HTTP_HOST).to.equal('[2001:db8::1]');
      let received: Environ | null = null;
      const app = prefixMiddleware((environ) => {
        received = environ;
        return [];
      }, { forcePort: 8000 });
      void app({ PATH_INFO: '/', SCRIPT_NAME: '', SERVER_NAME: 'name.example', 'wsgi.url_scheme': 'http' } as unknown as Environ, (() => () => undefined) as StartResponse);
      expect(received).to.have.property('HTTP_HOST', 'name.example:8000');
    });

    it('works on the host taken from X-Forwarded-Host', () => {
      const env = seen({ forcePort: 443, translateForwardedServer: true }, { HTTP_X_FORWARDED_HOST: 'public.example:8000' });
      expect(env.HTTP_HOST).to.equal('public.example:443');
    });

    it('rejects a value that is not a port', () => {
      for (const port of ['abc', 0, 70000, '80 ', -1]) {
        expect(() => prefixMiddleware(() => [], { forcePort: port }), String(port))
          .to.throw(InvalidOptionError)
          .with.property('option', 'forcePort');
      }
    });
  });

  describe('step 6: scheme', () => {
    it('overrides the forwarded scheme', () => {
      expect(seen({ scheme: 'http' }, { HTTP_X_FORWARDED_PROTO: 'https' })['wsgi.url_scheme']).to.equal('http');
      expect(seen({ scheme: 'HTTPS' })['wsgi.url_scheme']).to.equal('https');
    });

    it('rejects a scheme other than http/https', () => {
      expect(() => prefixMiddleware(() => [], { scheme: 'ftp' })).to.throw(InvalidOptionError).with.property('option', 'scheme');
    });
  });

  it("over a socket: a browser's /caf%C3%A9/a under prefix '/café' reaches the app as the urlPrefix option would give it", async () => {
    const show: App = (environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      return [Buffer.from(`${environ.SCRIPT_NAME}|${environ.PATH_INFO}`, 'latin1')];
    };
    const viaMiddleware = await startServer(prefixMiddleware(show, { prefix: '/café' }));
    const viaOption = await startServer(show, { urlPrefix: '/café' });
    try {
      const request = 'GET /caf%C3%A9/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
      const [middleware, option] = await Promise.all([send(viaMiddleware.port, request), send(viaOption.port, request)]);
      expect(middleware.responses[0]?.body.toString('hex')).to.equal(Buffer.from('/caf\xc3\xa9|/a', 'latin1').toString('hex'));
      expect(middleware.responses[0]?.body.toString('hex')).to.equal(option.responses[0]?.body.toString('hex'));
    } finally {
      await viaMiddleware.close();
      await viaOption.close();
    }
  });

  it('returns what the app returns', () => {
    const body = [Buffer.from('ok')];
    const startResponse = (() => () => undefined) as StartResponse;
    const environ = { PATH_INFO: '/', SCRIPT_NAME: '' } as unknown as Environ;
    expect(prefixMiddleware(() => body)(environ, startResponse)).to.equal(body);
  });
});

describe('prefixFilterFactory', () => {
  function filtered(localConf: Record<string, string>, extra: Record<string, string> = {}): Environ {
    let received: Environ | null = null;
    const app = prefixFilterFactory({ here: '/etc' }, localConf)((environ) => {
      received = environ;
      return [];
    });
    const environ = { PATH_INFO: '/', SCRIPT_NAME: '', HTTP_HOST: 'h:1', 'wsgi.url_scheme': 'http', ...extra } as unknown as Environ;
    void app(environ, (() => () => undefined) as StartResponse);
    if (received === null) throw new Error('the app was not called');
    return received;
  }

  it('maps the ini keys onto the options', () => {
    const env = filtered(
      { prefix: '/blog/', scheme: 'https', force_port: ' 8443 ', translate_forwarded_server: 'no' },
      { PATH_INFO: '/blog/post', HTTP_X_FORWARDED_HOST: 'spoof' },
    );
    expect([env.SCRIPT_NAME, env.PATH_INFO, env['wsgi.url_scheme'], env.HTTP_HOST, env.SERVER_PORT])
      .to.deep.equal(['/blog', '/post', 'https', 'h:8443', '8443']);
    expect(env.HTTP_X_FORWARDED_HOST).to.equal('spoof');
  });

  it('leaves translate_forwarded_server off unless the file turns it on', () => {
    const env = filtered({ prefix: '/app' }, { HTTP_X_FORWARDED_SERVER: 'evil.example', HTTP_X_FORWARDED_SCHEME: 'https' });
    expect([env.HTTP_HOST, env['wsgi.url_scheme']]).to.deep.equal(['h:1', 'http']);
  });

  it('an empty force_port means the default port of the scheme', () => {
    expect(filtered({ force_port: '' }).SERVER_PORT).to.equal('80');
  });

  it('parses translate_forwarded_server with the PasteDeploy words', () => {
    for (const word of ['true', 'Yes', ' on ', 'y', 'T', '1']) {
      expect(filtered({ translate_forwarded_server: word }, { HTTP_X_FORWARDED_HOST: 'x' }).HTTP_HOST, word).to.equal('x');
    }
    for (const word of ['false', 'NO', 'off', 'n', 'f', '0']) {
      expect(filtered({ translate_forwarded_server: word }, { HTTP_X_FORWARDED_HOST: 'x' }).HTTP_HOST, word).to.equal('h:1');
    }
  });

  it('refuses any other boolean word, naming the key', () => {
    for (const word of ['maybe', '', 'enabled']) {
      expect(() => prefixFilterFactory({}, { translate_forwarded_server: word }), word)
        .to.throw(InvalidOptionError, /^translate_forwarded_server: /)
        .with.property('option', 'translate_forwarded_server');
    }
  });

  it('refuses unknown keys and bad values when the file is loaded', () => {
    expect(() => prefixFilterFactory({}, { prefx: '/a' })).to.throw(InvalidOptionError).with.property('option', 'prefx');
    expect(() => prefixFilterFactory({}, { force_port: 'http' }))
      .to.throw(InvalidOptionError, /^force_port must be a port number/)
      .with.property('option', 'force_port');
    expect(() => prefixFilterFactory({}, { scheme: 'ftp' })).to.throw(InvalidOptionError).with.property('option', 'scheme');
    expect(() => prefixFilterFactory({}, { prefix: 'blog' })).to.throw(InvalidOptionError).with.property('option', 'prefix');
  });
});
