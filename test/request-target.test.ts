import { expect } from 'chai';
import { isPortNumber, isValidHost, parseRequestTarget, percentDecodePath } from '../src/request-target.js';

function parse(target: string | Buffer): ReturnType<typeof parseRequestTarget> {
  const bytes = typeof target === 'string' ? Buffer.from(target, 'latin1') : target;
  // Surround the target with other bytes to check that only the given range is read.
  const framed = `GET ${bytes.toString('latin1')} HTTP/1.1`;
  return parseRequestTarget(framed, 4, 4 + bytes.length);
}

describe('request-target', () => {
  describe('origin-form', () => {
    it('splits path, query and fragment and keeps the raw target', () => {
      expect(parse('/p/q?a=1&b=%41#frag')).to.deep.equal({ target: '/p/q?a=1&b=%41#frag', path: '/p/q', query: 'a=1&b=%41', authority: null });
    });

    it('gives an empty query when there is no "?"', () => {
      expect(parse('/x')).to.deep.equal({ target: '/x', path: '/x', query: '', authority: null });
    });

    it('splits the query at the first "?" only', () => {
      expect(parse('/x?a?b')).to.include({ path: '/x', query: 'a?b' });
    });

    it('ignores a "?" inside the fragment', () => {
      expect(parse('/x#f?g')).to.include({ path: '/x', query: '' });
    });

    it('keeps a path starting with // as is', () => {
      expect(parse('//host/p?q')).to.include({ path: '//host/p', query: 'q' });
    });
  });

  describe('absolute-form', () => {
    it('gives the authority apart from the path (the parser makes it the Host)', () => {
      expect(parse('http://example.com:81/p?q')).to.deep.equal({ target: 'http://example.com:81/p?q', path: '/p', query: 'q', authority: 'example.com:81' });
    });

    it('gives an empty path without one', () => {
      expect(parse('http://example.com')).to.include({ path: '', query: '' });
      expect(parse('http://example.com?x=1')).to.include({ path: '', query: 'x=1' });
    });

    it('accepts an IPv6 literal, an empty port and pct-encoded host bytes', () => {
      expect(parse('http://[::1]:8080/a')).to.include({ path: '/a', authority: '[::1]:8080' });
      expect(parse('http://[::1]/a')).to.include({ path: '/a', authority: '[::1]' });
      expect(parse('http://host:/a')).to.include({ path: '/a', authority: 'host:' });
      expect(parse('http://a%2Db/')).to.include({ authority: 'a%2Db' });
    });

    it('refuses userinfo (RFC 9110 section 4.2.4) and an http(s) URI without a host (section 4.2.1)', () => {
      for (const bad of ['http://u:p@[::1]:8080/a', 'http://evil@good/', 'http:///x', 'HTTPS://:443/x', 'http://']) {
        expect(parse(bad), bad).to.equal(null);
      }
    });

    it('leaves an empty authority of another scheme without a host', () => {
      expect(parse('file:///etc/x')).to.include({ path: '/etc/x', authority: null });
    });

    it('ignores the authority of a scheme other than http(s): it cannot replace Host', () => {
      expect(parse('foo://evil.example/x')).to.include({ path: '/x', authority: null });
      expect(parse('ftp://evil.example:21')).to.include({ path: '', authority: null });
      expect(parse('HTTPS://good.example/x')).to.include({ path: '/x', authority: 'good.example' });
    });

    it('reads scheme:rest without // as scheme and path (RFC 3986 absolute-URI)', () => {
      expect(parse('a:b?x')).to.include({ path: 'b', query: 'x' });
    });

    it('reads an authority-form target as scheme and path, as Waitress does', () => {
      expect(parse('example.com:443')).to.include({ path: '443' });
    });

    for (const bad of ['http://[::1/', 'http://::1]/', 'http://[zz]/', 'http://[::1]x/', 'http://host:8o/', 'http://a[b/', 'http://a"b/', 'http://a%zzb/', 'http://a{b}/']) {
      it(`refuses the malformed authority in ${bad}`, () => {
        expect(parse(bad)).to.equal(null);
      });
    }
  });

  it('accepts the asterisk-form', () => {
    expect(parse('*')).to.deep.equal({ target: '*', path: '*', query: '', authority: null });
  });

  describe('isValidHost (a Host value: uri-host [":" port])', () => {
    for (const good of ['example.com', 'example.com:8080', '127.0.0.1:80', '[::1]', '[::1]:443', 'my_host.local', 'a%2Db', 'host:', '', 'xn--bcher-kva.example', 'a,b']) {
      it(`accepts ${JSON.stringify(good)}`, () => expect(isValidHost(good)).to.equal(true));
    }
    for (const bad of ['a b', 'a/b', 'evil@good', 'a, b', '[::1', '[::1]x', 'a:8x', '"a"', '\u00e9', 'a:1:2', 'a%zz', 'a%2', 'a\tb', '[zz]', '<a>']) {
      it(`refuses ${JSON.stringify(bad)}`, () => expect(isValidHost(bad)).to.equal(false));
    }
  });

  for (const bad of ['foo', '?x', '1a:b', '*x', '#f', '-a:b']) {
    it(`refuses the target ${JSON.stringify(bad)}`, () => {
      expect(parse(bad)).to.equal(null);
    });
  }

  for (const byte of [0x00, 0x09, 0x0b, 0x1f, 0x20, 0x7f, 0x80, 0xd0, 0xff]) {
    it(`refuses the byte 0x${byte.toString(16)} in a target`, () => {
      expect(parse(Buffer.from([0x2f, byte, 0x61]))).to.equal(null);
      expect(parse(Buffer.from([0x2f, 0x2f, byte]))).to.equal(null);
    });
  }

  it('refuses an empty target', () => {
    expect(parseRequestTarget('x', 1, 1)).to.equal(null);
  });

  describe('path percent-decoding', () => {
    it('decodes every %XY into its byte, one char per byte', () => {
      expect(percentDecodePath('/a%C5%9b')).to.equal('/a\u00c5\u009b');
      expect(percentDecodePath('/a%2Fb%00%25')).to.equal('/a/b\u0000%');
    });

    it('keeps malformed escapes and "+" literal', () => {
      expect(percentDecodePath('/%zz%4%+a%')).to.equal('/%zz%4%+a%');
      expect(percentDecodePath('/%4g%%41')).to.equal('/%4g%A');
    });

    it('decodes the path of a parsed target but not its query', () => {
      expect(parse('/a%20b?c=%20')).to.include({ path: '/a b', query: 'c=%20', target: '/a%20b?c=%20' });
    });
  });

  it('isPortNumber: 1 to 5 digits, 1-65535', () => {
    expect(['1', '80', '08080', '65535'].map(isPortNumber)).to.deep.equal([true, true, true, true]);
    expect(['', '0', '65536', '99999', '123456', '+80', '8o', ' 80'].map(isPortNumber)).to.deep.equal(Array(8).fill(false));
  });
});
