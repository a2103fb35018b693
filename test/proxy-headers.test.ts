import { expect } from 'chai';
import sinon from 'sinon';
import { BadRequest, InvalidOptionError } from '../src/errors.js';
import type { Adjuster } from '../src/pipeline.js';
import { createProxyHeaderAdjuster, splitAddress, unquote, type ProxyHeaderOptions } from '../src/proxy-headers.js';
import type { Environ, Logger } from '../src/types.js';

type SpyLogger = Logger & { warn: sinon.SinonSpy };

function spyLogger(): SpyLogger {
  return { debug: sinon.spy(), info: sinon.spy(), warn: sinon.spy(), error: sinon.spy() };
}

/** The environ before adjustment in the spec's probe table (section 6.8), plus `extra`. */
function makeEnviron(extra: Record<string, string> = {}): Environ {
  return {
    REMOTE_ADDR: '10.0.0.1',
    REMOTE_HOST: '10.0.0.1',
    REMOTE_PORT: '5555',
    SERVER_NAME: 'garcon.invalid',
    SERVER_PORT: '8080',
    HTTP_HOST: 'orig:8080',
    'wsgi.url_scheme': 'http',
    ...extra,
  } as unknown as Environ;
}

function build(options: Partial<Omit<ProxyHeaderOptions, 'trustedProxyHeaders'>> & { headers?: string[] } = {}): {
  adjust: Adjuster;
  logger: SpyLogger;
} {
  const logger = spyLogger();
  const { headers = [], ...rest } = options;
  const adjust = createProxyHeaderAdjuster({
    trustedProxy: '10.0.0.1',
    trustedProxyCount: 1,
    trustedProxyHeaders: new Set(headers),
    clearUntrustedProxyHeaders: true,
    logUntrustedProxyHeaders: false,
    logger,
    ...rest,
  });
  if (adjust === null) throw new Error('expected an adjuster');
  return { adjust, logger };
}

/** Run the adjuster and return the environ it produced. */
function run(adjust: Adjuster, extra: Record<string, string>): Environ {
  const environ = makeEnviron(extra);
  adjust(environ);
  return environ;
}

function expectMalformed(adjust: Adjuster, extra: Record<string, string>, label: string): void {
  expect(() => run(adjust, extra))
    .to.throw(BadRequest)
    .that.satisfies((err: BadRequest) => err.status === 400 && err.detail === `Header "${label}" malformed.`);
}

const ALL_SIX = {
  HTTP_X_FORWARDED_FOR: '192.0.2.1',
  HTTP_X_FORWARDED_HOST: 'example.com',
  HTTP_X_FORWARDED_PROTO: 'https',
  HTTP_X_FORWARDED_PORT: '8443',
  HTTP_X_FORWARDED_BY: '10.0.0.1',
  HTTP_FORWARDED: 'for=192.0.2.1',
};

describe('proxy headers', () => {
  describe('probe table (spec 6.8), X-Forwarded-*', () => {
    it('X-Forwarded-For: the right-most hop is the client and the header keeps only it', () => {
      const { adjust } = build({ headers: ['x-forwarded-for'] });
      const env = run(adjust, { HTTP_X_FORWARDED_FOR: '192.0.2.1, 198.51.100.2, 203.0.113.3' });
      expect(env.REMOTE_ADDR).to.equal('203.0.113.3');
      expect(env.REMOTE_HOST).to.equal('203.0.113.3');
      expect(env.REMOTE_PORT).to.equal('5555');
      expect(env.HTTP_X_FORWARDED_FOR).to.equal('203.0.113.3');
    });

    it('X-Forwarded-For with trustedProxyCount 2 takes the second hop from the right', () => {
      const { adjust } = build({ headers: ['x-forwarded-for'], trustedProxy: '*', trustedProxyCount: 2 });
      const env = run(adjust, { HTTP_X_FORWARDED_FOR: '192.0.2.1, 198.51.100.2, 203.0.113.3' });
      expect(env.REMOTE_ADDR).to.equal('198.51.100.2');
      expect(env.HTTP_X_FORWARDED_FOR).to.equal('198.51.100.2, 203.0.113.3');
    });

    it('X-Forwarded-For with a bare IPv6 address', () => {
      const { adjust } = build({ headers: ['x-forwarded-for'] });
      const env = run(adjust, { HTTP_X_FORWARDED_FOR: '2001:db8::1' });
      expect(env.REMOTE_ADDR).to.equal('2001:db8::1');
      expect(env.REMOTE_PORT).to.equal('5555');
    });

    it('X-Forwarded-For with broken quoting is a 400 and a warning', () => {
      const { adjust, logger } = build({ headers: ['x-forwarded-for'] });
      expectMalformed(adjust, { HTTP_X_FORWARDED_FOR: '"192.0.2.1' }, 'X-Forwarded-For');
      expect(logger.warn.calledOnceWithExactly(
        'Malformed proxy header "X-Forwarded-For" from "10.0.0.1": Invalid quoting in value value: "192.0.2.1',
      )).to.equal(true);
    });

    it('X-Forwarded-Host with a port sets name, port and Host', () => {
      const { adjust } = build({ headers: ['x-forwarded-host'] });
      const env = run(adjust, { HTTP_X_FORWARDED_HOST: 'example.com:8443' });
      expect([env.SERVER_NAME, env.SERVER_PORT, env.HTTP_HOST]).to.deep.equal(['example.com', '8443', 'example.com:8443']);
    });

    it('X-Forwarded-Host plus X-Forwarded-Port', () => {
      const { adjust } = build({ headers: ['x-forwarded-host', 'x-forwarded-port'] });
      const env = run(adjust, { HTTP_X_FORWARDED_HOST: 'example.com', HTTP_X_FORWARDED_PORT: '8443' });
      expect([env.SERVER_NAME, env.SERVER_PORT, env.HTTP_HOST]).to.deep.equal(['example.com', '8443', 'example.com:8443']);
    });

    it('X-Forwarded-Host plus X-Forwarded-Proto https: the default port stays out of Host', () => {
      const { adjust } = build({ headers: ['x-forwarded-host', 'x-forwarded-proto'] });
      const env = run(adjust, { HTTP_X_FORWARDED_HOST: 'example.com', HTTP_X_FORWARDED_PROTO: 'https' });
      expect(env['wsgi.url_scheme']).to.equal('https');
      expect([env.SERVER_PORT, env.HTTP_HOST]).to.deep.equal(['443', 'example.com']);
    });

    it('https on port 80 keeps the port in Host', () => {
      const { adjust } = build({ headers: ['x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port'] });
      const env = run(adjust, {
        HTTP_X_FORWARDED_HOST: 'example.com',
        HTTP_X_FORWARDED_PROTO: 'https',
        HTTP_X_FORWARDED_PORT: '80',
      });
      expect([env.SERVER_PORT, env.HTTP_HOST]).to.deep.equal(['80', 'example.com:80']);
    });

    it('http on port 443 keeps the port in Host, http on 80 drops it', () => {
      const { adjust } = build({ headers: ['x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port'] });
      const on443 = run(adjust, { HTTP_X_FORWARDED_HOST: 'h', HTTP_X_FORWARDED_PROTO: 'http', HTTP_X_FORWARDED_PORT: '443' });
      expect(on443.HTTP_HOST).to.equal('h:443');
      const on80 = run(adjust, { HTTP_X_FORWARDED_HOST: 'h', HTTP_X_FORWARDED_PROTO: 'http', HTTP_X_FORWARDED_PORT: '80' });
      expect(on80.HTTP_HOST).to.equal('h');
    });

    it('X-Forwarded-Proto is case-insensitive and implies the default port', () => {
      const { adjust } = build({ headers: ['x-forwarded-proto'] });
      const env = run(adjust, { HTTP_X_FORWARDED_PROTO: 'HTTPS' });
      expect(env['wsgi.url_scheme']).to.equal('https');
      expect(env.SERVER_PORT).to.equal('443');
      expect(env.HTTP_HOST).to.equal('orig:8080');
      expect(run(adjust, { HTTP_X_FORWARDED_PROTO: 'http' }).SERVER_PORT).to.equal('80');
    });

    it('X-Forwarded-Proto other than http/https, or a list, is a 400', () => {
      const { adjust, logger } = build({ headers: ['x-forwarded-proto'] });
      for (const value of ['ws', 'https, http', '"ftp"']) {
        expectMalformed(adjust, { HTTP_X_FORWARDED_PROTO: value }, 'X-Forwarded-Proto');
      }
      expect(logger.warn.firstCall.args[0]).to.match(/^Malformed proxy header "X-Forwarded-Proto" from "10\.0\.0\.1": /);
    });

    it('X-Forwarded-Port with a list or a non-numeric value is a 400 (stricter than Waitress)', () => {
      const { adjust } = build({ headers: ['x-forwarded-port'] });
      for (const value of ['1,2', 'abc', '80abc', '123456', '-1', '0', '99999', '65536']) {
        expectMalformed(adjust, { HTTP_X_FORWARDED_PORT: value }, 'X-Forwarded-Port');
      }
      expect(run(adjust, { HTTP_X_FORWARDED_PORT: '65535' }).SERVER_PORT).to.equal('65535');
      expect(run(adjust, { HTTP_X_FORWARDED_PORT: '"9000"' }).SERVER_PORT).to.equal('9000');
    });

    it('X-Forwarded-Host that is not host[:port], or whose port is not one, is a 400 (stricter than Waitress)', () => {
      const { adjust } = build({ headers: ['x-forwarded-host'] });
      // ':80' and ':' name no host (RFC 9110 section 4.2.1).
      for (const value of ['evil.com other', 'user@evil.com', 'evil.com/path', '<script>', '::1', 'example.com:abc', 'example.com:99999', 'example.com:0', ':80', ':']) {
        expectMalformed(adjust, { HTTP_X_FORWARDED_HOST: value }, 'X-Forwarded-Host');
      }
      const env = run(adjust, { HTTP_X_FORWARDED_HOST: '[2001:db8::1]:8443' });
      expect([env.SERVER_NAME, env.HTTP_HOST, env.SERVER_PORT]).to.deep.equal(['[2001:db8::1]', '[2001:db8::1]:8443', '8443']);
    });

    it('a host with an empty port is the scheme\'s default port (RFC 3986 section 3.2.3), as with none', () => {
      const { adjust } = build({ headers: ['x-forwarded-host', 'x-forwarded-proto'] });
      for (const host of ['example.com:', 'example.com']) {
        const env = run(adjust, { HTTP_X_FORWARDED_HOST: host, HTTP_X_FORWARDED_PROTO: 'https' });
        expect([env.SERVER_NAME, env.SERVER_PORT, env.HTTP_HOST], host).to.deep.equal(['example.com', '443', 'example.com']);
      }
      const v6 = run(adjust, { HTTP_X_FORWARDED_HOST: '[::1]:', HTTP_X_FORWARDED_PROTO: 'http' });
      expect([v6.SERVER_NAME, v6.SERVER_PORT, v6.HTTP_HOST]).to.deep.equal(['[::1]', '80', '[::1]']);
    });

    it('ports with leading zeros are the same ports (RFC 3986 section 6.2.3): 0443 is 443', () => {
      const { adjust } = build({ headers: ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port'] });
      const byPort = run(adjust, { HTTP_X_FORWARDED_HOST: 'example.com', HTTP_X_FORWARDED_PORT: '0443', HTTP_X_FORWARDED_PROTO: 'https' });
      expect([byPort.SERVER_PORT, byPort.HTTP_HOST]).to.deep.equal(['443', 'example.com']);
      const inHost = run(adjust, { HTTP_X_FORWARDED_HOST: 'example.com:08443' });
      expect([inHost.SERVER_PORT, inHost.HTTP_HOST]).to.deep.equal(['8443', 'example.com:8443']);
      expect(run(adjust, { HTTP_X_FORWARDED_FOR: '192.0.2.1:0080' }).REMOTE_PORT).to.equal('80');
    });

    it('a client hop whose port is not a port is a 400; an RFC 7239 obfuscated port passes', () => {
      const xff = build({ headers: ['x-forwarded-for'] }).adjust;
      for (const value of ['1.2.3.4:abc', '1.2.3.4:99999', '[::1]:0']) {
        expectMalformed(xff, { HTTP_X_FORWARDED_FOR: value }, 'X-Forwarded-For');
      }
      const forwarded = build({ headers: ['forwarded'] }).adjust;
      expectMalformed(forwarded, { HTTP_FORWARDED: 'for="1.2.3.4:abc"' }, 'Forwarded For=');
      // Nothing that could split an access-log line's fields: a space, a quote, a backslash, non-ASCII.
      for (const value of ['for="1.2.3.4 fake"', 'for="_a\\"b"', 'for=a\\b', 'for="\u00e9"']) {
        expectMalformed(forwarded, { HTTP_FORWARDED: value }, 'Forwarded For=');
      }
      expectMalformed(xff, { HTTP_X_FORWARDED_FOR: '"1.2.3.4 fake"' }, 'X-Forwarded-For');
      expect(run(forwarded, { HTTP_FORWARDED: 'for="1.2.3.4:_p1"' }).REMOTE_PORT).to.equal('_p1');
    });

    it('trusting only X-Forwarded-Proto removes the other five, with a warning when asked', () => {
      const { adjust, logger } = build({ headers: ['x-forwarded-proto'], logUntrustedProxyHeaders: true });
      const env = run(adjust, ALL_SIX);
      expect(env['wsgi.url_scheme']).to.equal('https');
      expect(env.HTTP_X_FORWARDED_PROTO).to.equal('https');
      for (const key of ['HTTP_X_FORWARDED_FOR', 'HTTP_X_FORWARDED_HOST', 'HTTP_X_FORWARDED_PORT', 'HTTP_X_FORWARDED_BY', 'HTTP_FORWARDED']) {
        expect(env, key).not.to.have.property(key);
      }
      expect(env.REMOTE_ADDR).to.equal('10.0.0.1');
      expect(logger.warn.calledOnceWithExactly(
        'Removed untrusted headers (X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Port, X-Forwarded-By, Forwarded). ' +
          'garcon recommends these be removed upstream.',
      )).to.equal(true);
    });

    it('removes silently when logging is off', () => {
      const { adjust, logger } = build({ headers: ['x-forwarded-proto'] });
      run(adjust, ALL_SIX);
      expect(logger.warn.called).to.equal(false);
    });

    it('a peer that is not trusted gets its proxy headers removed and nothing honoured', () => {
      const { adjust } = build({ headers: ['x-forwarded-proto', 'x-forwarded-for'], trustedProxy: '10.0.0.2' });
      const env = run(adjust, { HTTP_X_FORWARDED_PROTO: 'https', HTTP_X_FORWARDED_FOR: '192.0.2.1' });
      expect(env['wsgi.url_scheme']).to.equal('http');
      expect(env.REMOTE_ADDR).to.equal('10.0.0.1');
      expect(env).not.to.have.property('HTTP_X_FORWARDED_PROTO');
      expect(env).not.to.have.property('HTTP_X_FORWARDED_FOR');
    });

    it('with the defaults (no trustedProxy, clearing on) every proxy header is removed', () => {
      const { adjust, logger } = build({ trustedProxy: null, logUntrustedProxyHeaders: true });
      const env = run(adjust, ALL_SIX);
      expect(Object.keys(env).filter((k) => k.includes('FORWARDED'))).to.deep.equal([]);
      expect(env['wsgi.url_scheme']).to.equal('http');
      expect(logger.warn.calledOnce).to.equal(true);
    });

    it("'*' trusts any peer", () => {
      const { adjust } = build({ headers: ['x-forwarded-proto'], trustedProxy: '*' });
      const env = makeEnviron({ REMOTE_ADDR: '198.51.100.77', HTTP_X_FORWARDED_PROTO: 'https' });
      adjust(env);
      expect(env['wsgi.url_scheme']).to.equal('https');
    });

    it('trusted X-Forwarded-By is kept and changes nothing', () => {
      const { adjust } = build({ headers: ['x-forwarded-by'] });
      const env = run(adjust, { HTTP_X_FORWARDED_BY: 'proxy-1' });
      expect(env).to.deep.equal(makeEnviron({ HTTP_X_FORWARDED_BY: 'proxy-1' }));
    });

    it("Waitress's functional case: '*', trusting XFF and XFProto, drops X-Forwarded-Port", () => {
      const { adjust } = build({ headers: ['x-forwarded-for', 'x-forwarded-proto'], trustedProxy: '*' });
      const env = run(adjust, {
        HTTP_HOST: 'www.google.com:8080',
        HTTP_X_FORWARDED_FOR: '192.168.1.1',
        HTTP_X_FORWARDED_PROTO: 'https',
        HTTP_X_FORWARDED_PORT: '5000',
      });
      expect(env['wsgi.url_scheme']).to.equal('https');
      expect([env.REMOTE_ADDR, env.REMOTE_HOST]).to.deep.equal(['192.168.1.1', '192.168.1.1']);
      expect(env.HTTP_HOST).to.equal('www.google.com:8080');
      expect(env).not.to.have.property('HTTP_X_FORWARDED_PORT');
    });
  });

  describe('probe table (spec 6.8), Forwarded', () => {
    it('takes for, proto and host from one element', () => {
      const { adjust } = build({ headers: ['forwarded'] });
      const env = run(adjust, { HTTP_FORWARDED: 'for=192.0.2.60;proto=https;by=203.0.113.43;host=example.com' });
      expect(env.REMOTE_ADDR).to.equal('192.0.2.60');
      expect(env['wsgi.url_scheme']).to.equal('https');
      expect(env.SERVER_PORT).to.equal('443');
      expect([env.SERVER_NAME, env.HTTP_HOST]).to.deep.equal(['example.com', 'example.com']);
    });

    const twoHops = 'for=192.0.2.1;host=a.com;proto=https, for=198.51.100.2;host=b.internal';

    it('with trustedProxyCount 2 the oldest trusted element wins per field', () => {
      const { adjust } = build({ headers: ['forwarded'], trustedProxy: '*', trustedProxyCount: 2 });
      const env = run(adjust, { HTTP_FORWARDED: twoHops });
      expect([env.REMOTE_ADDR, env.HTTP_HOST, env['wsgi.url_scheme']]).to.deep.equal(['192.0.2.1', 'a.com', 'https']);
      expect(env.HTTP_FORWARDED).to.equal(twoHops);
    });

    it('with trustedProxyCount 1 only the newest element counts, and the header keeps only it', () => {
      const { adjust } = build({ headers: ['forwarded'] });
      const env = run(adjust, { HTTP_FORWARDED: twoHops });
      expect([env.REMOTE_ADDR, env.HTTP_HOST, env['wsgi.url_scheme']]).to.deep.equal(['198.51.100.2', 'b.internal', 'http']);
      expect(env.SERVER_PORT).to.equal('8080');
      expect(env.HTTP_FORWARDED).to.equal('for=198.51.100.2;host=b.internal');
    });

    it('rejects malformed pairs and values', () => {
      const { adjust } = build({ headers: ['forwarded'] });
      const cases: [string, string][] = [
        ['for', 'Forwarded'],
        ['for = 1.2.3.4', 'Forwarded'],
        ['for =1.2.3.4', 'Forwarded'],
        ['for= 1.2.3.4', 'Forwarded'],
        ['for=1.2.3.4; proto=https', 'Forwarded'],
        ['for="1.2.3.4', 'Forwarded'],
        ['by="x', 'Forwarded'],
        ['proto=ftp', 'Forwarded Proto='],
        ['host="evil.com/x y"', 'Forwarded Host='],
        ['host=a@b', 'Forwarded Host='],
        ['for=1.1.1.1;for=2.2.2.2', 'Forwarded'],
        ['proto=https;Proto=http', 'Forwarded'],
      ];
      for (const [value, label] of cases) expectMalformed(adjust, { HTTP_FORWARDED: value }, label);
    });

    it('names the reason in the warning', () => {
      const { adjust, logger } = build({ headers: ['forwarded'] });
      expect(() => run(adjust, { HTTP_FORWARDED: 'for' })).to.throw(BadRequest);
      expect(logger.warn.firstCall.args[0]).to.equal(
        'Malformed proxy header "Forwarded" from "10.0.0.1": Invalid forwarded-pair missing "=" value: for',
      );
    });

    it('wins over X-Forwarded-For, which is removed', () => {
      const { adjust } = build({ headers: ['forwarded'] });
      const env = run(adjust, { HTTP_FORWARDED: 'for=1.2.3.4', HTTP_X_FORWARDED_FOR: '5.6.7.8' });
      expect(env.REMOTE_ADDR).to.equal('1.2.3.4');
      expect(env).not.to.have.property('HTTP_X_FORWARDED_FOR');
    });

    it('splits a quoted [v6]:port, lower-cases values, skips empty pairs', () => {
      const { adjust } = build({ headers: ['forwarded'] });
      const env = run(adjust, { HTTP_FORWARDED: 'for="[2001:DB8::1]:4711";;Host="Example.COM:8443"' });
      expect([env.REMOTE_ADDR, env.REMOTE_PORT]).to.deep.equal(['2001:db8::1', '4711']);
      expect([env.SERVER_NAME, env.SERVER_PORT]).to.deep.equal(['example.com', '8443']);
    });

    it('ignores unknown parameters with a warning', () => {
      const { adjust, logger } = build({ headers: ['forwarded'] });
      const env = run(adjust, { HTTP_FORWARDED: 'for=1.2.3.4;secret=x' });
      expect(env.REMOTE_ADDR).to.equal('1.2.3.4');
      expect(logger.warn.calledOnceWithExactly('Unknown Forwarded token: secret')).to.equal(true);
    });

    it('warns once per element however many unknown parameters it has, and refuses more than 16 parameters', () => {
      const { adjust, logger } = build({ headers: ['forwarded'] });
      const sixteen = ['for=1.2.3.4', ...Array.from({ length: 15 }, (_, i) => `p${i}=x`)].join(';');
      expect(run(adjust, { HTTP_FORWARDED: sixteen }).REMOTE_ADDR).to.equal('1.2.3.4');
      expect(logger.warn.args.map((args) => args[0])).to.deep.equal([`Unknown Forwarded tokens: ${Array.from({ length: 15 }, (_, i) => `p${i}`).join(', ')}`]);
      // 36,000 parameters in 256 KiB cost 2 s of CPU (a quadratic duplicate check) and a log line each.
      expect(() => run(adjust, { HTTP_FORWARDED: `${sixteen};p15=x` })).to.throw(BadRequest);
      expect(logger.warn.args.at(-1)![0]).to.match(/More than 16 parameters in one element/);
      // The value in the warning is cut short: one parameter may be 256 KiB.
      expect(() => run(adjust, { HTTP_FORWARDED: `for=1.2.3.4;for=${'x'.repeat(100_000)}` })).to.throw(BadRequest);
      expect(logger.warn.args.at(-1)![0]).to.match(/Parameter given twice in one element value: for=1\.2\.3\.4;for=x+\.\.\.\(99760 more\)$/);
    });

    it('counts only the parameters of an element, not its empty pairs (RFC 7239: [pair] *(";" [pair]))', () => {
      const { adjust } = build({ headers: ['forwarded'] });
      const env = run(adjust, { HTTP_FORWARDED: `for=192.0.2.60;proto=https${';'.repeat(40)}` });
      expect([env.REMOTE_ADDR, env['wsgi.url_scheme']]).to.deep.equal(['192.0.2.60', 'https']);
    });

    it('reads quoted values with escapes, and long ones, whole', () => {
      const { adjust } = build({ headers: ['forwarded'] });
      expect(run(adjust, { HTTP_FORWARDED: 'for="1.2.3.4";host="a\\.example"' }).SERVER_NAME).to.equal('a.example');
      const long = 'h'.repeat(100_000);
      expect(run(adjust, { HTTP_FORWARDED: `for=1.2.3.4;host="${long}"` }).SERVER_NAME).to.equal(long);
    });

    it('an error that is not about the header (here the logger failing) is not turned into a 400', () => {
      const { adjust, logger } = build({ headers: ['forwarded'] });
      logger.warn = sinon.stub().throws(new RangeError('log sink closed'));
      expect(() => run(adjust, { HTTP_FORWARDED: 'for=1.2.3.4;secret=x' })).to.throw(RangeError, 'log sink closed');
    });

    it('an empty Forwarded header changes nothing', () => {
      const { adjust } = build({ headers: ['forwarded'] });
      expect(run(adjust, { HTTP_FORWARDED: '' })).to.deep.equal(makeEnviron({ HTTP_FORWARDED: '' }));
    });
  });

  describe('client addresses (Q21 fixed)', () => {
    const { adjust } = build({ headers: ['x-forwarded-for'] });
    const cases: [string, string, string][] = [
      ['[2001:db8::1]:443', '2001:db8::1', '443'],
      ['[2001:db8::1]', '2001:db8::1', '5555'],
      ['"[2001:db8::1]:443"', '2001:db8::1', '443'],
      ['192.0.2.1:1234', '192.0.2.1', '1234'],
      ['::ffff:192.0.2.1', '::ffff:192.0.2.1', '5555'],
      ['not-an-ip', 'not-an-ip', '5555'],
      ['unknown', 'unknown', '5555'],
    ];
    for (const [hop, address, port] of cases) {
      it(`X-Forwarded-For: ${hop}`, () => {
        const env = run(adjust, { HTTP_X_FORWARDED_FOR: hop });
        expect([env.REMOTE_ADDR, env.REMOTE_HOST, env.REMOTE_PORT]).to.deep.equal([address, address, port]);
      });
    }

    it('a trailing comma leaves the address alone and empties the header', () => {
      const env = run(adjust, { HTTP_X_FORWARDED_FOR: '192.0.2.1,' });
      expect(env.REMOTE_ADDR).to.equal('10.0.0.1');
      expect(env.HTTP_X_FORWARDED_FOR).to.equal('');
    });

    it('splitAddress leaves a malformed bracket form whole', () => {
      expect(splitAddress('[2001:db8::1')).to.deep.equal({ address: '[2001:db8::1', port: '' });
      expect(splitAddress('[2001:db8::1]x')).to.deep.equal({ address: '[2001:db8::1]x', port: '' });
    });
  });

  describe('spoofing (3.0.2 rewrite and the trust walk)', () => {
    it('the app only sees the trusted hops of XFF, XFH and Forwarded', () => {
      const { adjust } = build({ headers: ['x-forwarded-for', 'x-forwarded-host'] });
      const env = run(adjust, { HTTP_X_FORWARDED_FOR: 'evil, 203.0.113.3', HTTP_X_FORWARDED_HOST: 'evil.example, good.example' });
      expect(env.HTTP_X_FORWARDED_FOR).to.equal('203.0.113.3');
      expect(env.HTTP_X_FORWARDED_HOST).to.equal('good.example');
      expect(env.HTTP_HOST).to.equal('good.example');
      const fwd = build({ headers: ['forwarded'] }).adjust;
      expect(run(fwd, { HTTP_FORWARDED: 'for=evil, for=203.0.113.3' }).HTTP_FORWARDED).to.equal('for=203.0.113.3');
    });

    it('one exact trustedProxy with trustedProxyCount 2 takes the 2nd hop from the right, as Waitress does (a CDN before nginx)', () => {
      const xff = build({ headers: ['x-forwarded-for'], trustedProxyCount: 2 }).adjust;
      expect(run(xff, { HTTP_X_FORWARDED_FOR: '192.0.2.1, 198.51.100.2, 203.0.113.3' }).REMOTE_ADDR).to.equal('198.51.100.2');
      const forwarded = build({ headers: ['forwarded'], trustedProxyCount: 2 }).adjust;
      const env = run(forwarded, { HTTP_FORWARDED: 'for=192.0.2.1;host=a.com;proto=https, for=198.51.100.2;host=b.internal' });
      expect([env.REMOTE_ADDR, env.HTTP_HOST, env['wsgi.url_scheme']]).to.deep.equal(['192.0.2.1', 'a.com', 'https']);
    });

    it('with a list, the client is the right-most hop that is not a trusted proxy', () => {
      const { adjust } = build({ headers: ['x-forwarded-for'], trustedProxy: '10.0.0.0/8', trustedProxyCount: 3 });
      const env = run(adjust, { HTTP_X_FORWARDED_FOR: '10.9.9.9, 198.51.100.7, 10.0.0.2' });
      expect(env.REMOTE_ADDR).to.equal('198.51.100.7');
      expect(env.HTTP_X_FORWARDED_FOR).to.equal('198.51.100.7, 10.0.0.2');
    });

    it('takes the last trustedProxyCount hops of a long list from its end, empty ones and a leading comma as split would', () => {
      const { adjust } = build({ headers: ['x-forwarded-for'], trustedProxy: '10.0.0.0/8', trustedProxyCount: 3 });
      const hops = Array.from({ length: 100_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      const env = run(adjust, { HTTP_X_FORWARDED_FOR: [...hops, '198.51.100.7', '10.0.0.2'].join(', ') });
      expect(env.REMOTE_ADDR).to.equal('198.51.100.7');
      expect(env.HTTP_X_FORWARDED_FOR).to.equal('198.51.100.7, 10.0.0.2');
      // An empty hop before the trusted ones names no client: REMOTE_ADDR stays the peer's.
      const edge = run(adjust, { HTTP_X_FORWARDED_FOR: ',10.0.0.2' });
      expect(edge.REMOTE_ADDR).to.equal('10.0.0.1');
    });

    it('a client cannot pose as a trusted proxy by adding hops on the left', () => {
      const { adjust } = build({ headers: ['x-forwarded-for'], trustedProxy: '10.0.0.0/8', trustedProxyCount: 3 });
      const env = run(adjust, { HTTP_X_FORWARDED_FOR: '1.1.1.1, 10.0.0.3, 203.0.113.9' });
      expect(env.REMOTE_ADDR).to.equal('203.0.113.9');
      expect(env.HTTP_X_FORWARDED_FOR).to.equal('203.0.113.9');
    });

    it('trustedProxyCount caps the walk even through trusted hops', () => {
      const { adjust } = build({ headers: ['x-forwarded-for'], trustedProxy: '10.0.0.0/8', trustedProxyCount: 2 });
      const env = run(adjust, { HTTP_X_FORWARDED_FOR: '192.0.2.1, 10.0.0.3, 10.0.0.2' });
      expect(env.REMOTE_ADDR).to.equal('10.0.0.3');
    });

    it('a count larger than the chain stops at the left-most hop', () => {
      const { adjust } = build({ headers: ['x-forwarded-for'], trustedProxy: '*', trustedProxyCount: 5 });
      expect(run(adjust, { HTTP_X_FORWARDED_FOR: '192.0.2.1, 198.51.100.2' }).REMOTE_ADDR).to.equal('192.0.2.1');
    });

    it('X-Forwarded-Host follows the depth X-Forwarded-For proved', () => {
      const { adjust } = build({
        headers: ['x-forwarded-for', 'x-forwarded-host'],
        trustedProxy: '10.0.0.0/8',
        trustedProxyCount: 2,
      });
      const env = run(adjust, { HTTP_X_FORWARDED_FOR: '10.0.0.7, 198.51.100.7', HTTP_X_FORWARDED_HOST: 'evil.example, good.example' });
      expect(env.HTTP_HOST).to.equal('good.example');
      const deeper = run(adjust, { HTTP_X_FORWARDED_FOR: '192.0.2.1, 10.0.0.7', HTTP_X_FORWARDED_HOST: 'outer.example, inner.internal' });
      expect([deeper.REMOTE_ADDR, deeper.HTTP_HOST]).to.deep.equal(['192.0.2.1', 'outer.example']);
    });

    it('without X-Forwarded-For, X-Forwarded-Host uses trustedProxyCount hops', () => {
      const { adjust } = build({ headers: ['x-forwarded-host'], trustedProxy: '*', trustedProxyCount: 2 });
      const env = run(adjust, { HTTP_X_FORWARDED_HOST: 'a.example, b.example, c.example' });
      expect(env.HTTP_HOST).to.equal('b.example');
      expect(env.HTTP_X_FORWARDED_HOST).to.equal('b.example, c.example');
    });

    it('Forwarded follows the chain only through trusted for= addresses', () => {
      const { adjust } = build({ headers: ['forwarded'], trustedProxy: '10.0.0.0/8', trustedProxyCount: 2 });
      const viaTrusted = run(adjust, { HTTP_FORWARDED: 'for=192.0.2.1;proto=https, for=10.0.0.2' });
      expect([viaTrusted.REMOTE_ADDR, viaTrusted['wsgi.url_scheme']]).to.deep.equal(['192.0.2.1', 'https']);
      const spoofed = run(adjust, { HTTP_FORWARDED: 'for=192.0.2.1;proto=https, for=198.51.100.2' });
      expect([spoofed.REMOTE_ADDR, spoofed['wsgi.url_scheme']]).to.deep.equal(['198.51.100.2', 'http']);
      expect(spoofed.HTTP_FORWARDED).to.equal('for=198.51.100.2');
    });

    it('only the hops inside the trusted window are parsed', () => {
      const { adjust } = build({ headers: ['x-forwarded-for'] });
      expect(run(adjust, { HTTP_X_FORWARDED_FOR: '"broken, 192.0.2.1' }).REMOTE_ADDR).to.equal('192.0.2.1');
    });

    it('only the hops the walk reaches are parsed: a malformed entry left of an untrusted hop is dropped unread', () => {
      // A list trust with a count of 2: 203.0.113.9 is not trusted, so the walk stops there.
      const xff = build({ headers: ['x-forwarded-for'], trustedProxy: '10.0.0.0/8', trustedProxyCount: 2 }).adjust;
      expect(run(xff, { HTTP_X_FORWARDED_FOR: '"broken, 203.0.113.9' }).REMOTE_ADDR).to.equal('203.0.113.9');
      // The same entry right of a trusted hop is read, and refused.
      expectMalformed(xff, { HTTP_X_FORWARDED_FOR: '"broken, 10.0.0.7' }, 'X-Forwarded-For');
      const forwarded = build({ headers: ['forwarded'], trustedProxy: '10.0.0.0/8', trustedProxyCount: 2 });
      for (const value of ['for, for=203.0.113.9', 'for=1.1.1.1;for=2.2.2.2, for=203.0.113.9', 'for="x, for=203.0.113.9', 'x-made-up=1, for=203.0.113.9']) {
        expect(run(forwarded.adjust, { HTTP_FORWARDED: value }).REMOTE_ADDR, value).to.equal('203.0.113.9');
      }
      // Parameters of an element the walk never reached are not even warned about.
      expect(forwarded.logger.warn.called).to.equal(false);
    });
  });

  describe('peers', () => {
    it('a unix-socket peer is trusted with trustedProxy unix', () => {
      const { adjust } = build({ headers: ['x-forwarded-for', 'x-forwarded-proto'], trustedProxy: 'unix' });
      const env = makeEnviron({
        REMOTE_ADDR: 'localhost',
        REMOTE_HOST: 'localhost',
        REMOTE_PORT: '',
        HTTP_X_FORWARDED_FOR: '192.0.2.4',
        HTTP_X_FORWARDED_PROTO: 'https',
      });
      adjust(env);
      expect([env.REMOTE_ADDR, env.REMOTE_PORT, env['wsgi.url_scheme']]).to.deep.equal(['192.0.2.4', '', 'https']);
    });

    it('a unix-socket peer is not trusted by an IP range', () => {
      const { adjust } = build({ headers: ['x-forwarded-for'], trustedProxy: 'loopback' });
      const env = makeEnviron({ REMOTE_ADDR: 'localhost', HTTP_X_FORWARDED_FOR: '192.0.2.4' });
      adjust(env);
      expect(env.REMOTE_ADDR).to.equal('localhost');
      expect(env).not.to.have.property('HTTP_X_FORWARDED_FOR');
    });

    it('an IPv4-mapped IPv6 peer matches its IPv4 form', () => {
      const { adjust } = build({ headers: ['x-forwarded-for'] });
      const env = makeEnviron({ REMOTE_ADDR: '::ffff:10.0.0.1', HTTP_X_FORWARDED_FOR: '192.0.2.4' });
      adjust(env);
      expect(env.REMOTE_ADDR).to.equal('192.0.2.4');
    });
  });

  describe('options', () => {
    it('is not built when nobody is trusted and untrusted headers are kept', () => {
      expect(createProxyHeaderAdjuster({
        trustedProxy: null,
        trustedProxyCount: 1,
        trustedProxyHeaders: new Set(),
        clearUntrustedProxyHeaders: false,
        logUntrustedProxyHeaders: false,
        logger: spyLogger(),
      })).to.equal(null);
    });

    it('with clearing off, untrusted headers pass through unchanged', () => {
      const { adjust } = build({ headers: ['x-forwarded-proto'], clearUntrustedProxyHeaders: false, logUntrustedProxyHeaders: true });
      const env = run(adjust, ALL_SIX);
      expect(env).to.deep.equal({ ...makeEnviron(ALL_SIX), 'wsgi.url_scheme': 'https', SERVER_PORT: '443' });
    });

    it('leaves a request without proxy headers untouched, trusted or not, X-Forwarded-* or Forwarded', () => {
      // The pipeline skips this stage for such requests; this is the promise that makes the skip safe.
      for (const options of [
        { headers: ['x-forwarded-for'] },
        { headers: ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port'] },
        { headers: ['forwarded'] },
        { headers: ['x-forwarded-for'], trustedProxy: '192.0.2.1' },
      ]) {
        const { adjust, logger } = build({ ...options, logUntrustedProxyHeaders: true });
        expect(run(adjust, { HTTP_ACCEPT: '*/*' }), JSON.stringify(options)).to.deep.equal(makeEnviron({ HTTP_ACCEPT: '*/*' }));
        expect(logger.warn.called).to.equal(false);
      }
    });

    it('rejects a trustedProxyCount below 1 or fractional', () => {
      for (const count of [0, -1, 1.5]) {
        expect(() => build({ trustedProxyCount: count })).to.throw(InvalidOptionError).with.property('option', 'trustedProxyCount');
      }
    });

    it('rejects an unusable trustedProxy at build time', () => {
      expect(() => build({ trustedProxy: 'proxy.example' })).to.throw(InvalidOptionError);
    });
  });

  describe('unquote', () => {
    const cases: [string, string][] = [
      ['plain', 'plain'],
      ['a"b', 'a"b'],
      ['""', ''],
      ['"192.0.2.1"', '192.0.2.1'],
      ['"a\\"b\\\\c"', 'a"b\\c'],
      ['"tab\there"', 'tab\there'],
      ['"\u00e9t\u00e9"', '\u00e9t\u00e9'],
    ];
    for (const [input, output] of cases) {
      it(`${JSON.stringify(input)} -> ${JSON.stringify(output)}`, () => {
        expect(unquote(input, 'X')).to.equal(output);
      });
    }

    for (const input of ['"', '"abc', 'abc"', '"abc\\"', '"a"b"', '"a\u0001b"', '"a\\\u0001"']) {
      it(`rejects ${JSON.stringify(input)}`, () => {
        expect(() => unquote(input, 'X')).to.throw('Invalid quoting in value');
      });
    }
  });
});
