import { expect } from 'chai';
import { FieldFlag, HOP_BY_HOP_KEYS } from '../src/header-names.js';
import { RequestParser, type ParserLimits } from '../src/parser.js';
import type { ParsedRequest } from '../src/request.js';

const LIMITS: ParserLimits = { maxRequestHeaderSize: 262144, maxRequestHeaderFields: 1000, maxRequestBodySize: 1073741824, inbufOverflow: 524288 };

interface Fed {
  parser: RequestParser;
  request: ParsedRequest;
  consumed: number;
}

function bytes(raw: string | Buffer): Buffer {
  return typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw;
}

/** Feed the pieces in order until the parser completes; returns what it consumed in total. */
function feed(pieces: Array<string | Buffer>, limits: Partial<ParserLimits> = {}): Fed {
  const parser = new RequestParser({ ...LIMITS, ...limits });
  let consumed = 0;
  for (const piece of pieces) {
    if (parser.completed) break;
    consumed += parser.received(bytes(piece));
  }
  return { parser, request: parser.request, consumed };
}

function parse(raw: string | Buffer, limits: Partial<ParserLimits> = {}): ParsedRequest {
  return feed([raw], limits).request;
}

/** One byte per read. */
function bytewise(raw: string): string[] {
  return [...raw];
}

/** Everything observable about a parsed request, as plain data. */
function summary(fed: Fed): Record<string, unknown> {
  const r = fed.request;
  return {
    consumed: fed.consumed,
    completed: fed.parser.completed,
    headersFinished: fed.parser.headersFinished,
    method: r.method,
    target: r.target,
    path: r.path,
    query: r.query,
    version: r.version,
    headers: { ...r.headers },
    keepAlive: r.keepAlive,
    forceClose: r.forceClose,
    expectContinue: r.expectContinue,
    chunked: r.chunked,
    body: r.body === null ? null : r.body.input().read().toString('latin1'),
    error: r.error === null ? null : [r.error.status, r.error.detail],
  };
}

function expectError(raw: string | Buffer, status: number, detail: string, limits: Partial<ParserLimits> = {}): void {
  const fed = feed([raw], limits);
  expect(fed.parser.completed, 'completed').to.equal(true);
  expect(fed.request.error, 'error').to.not.equal(null);
  expect([fed.request.error!.status, fed.request.error!.detail]).to.deep.equal([status, detail]);
}

const HOST = 'Host: example.com\r\n';

describe('RequestParser', () => {
  describe('a simple request', () => {
    it('fills in the request and completes without a body', () => {
      const raw = `GET /a%20b?x=1#frag HTTP/1.1\r\n${HOST}Accept: */*\r\n\r\n`;
      const fed = feed([raw]);
      expect(summary(fed)).to.deep.equal({
        consumed: raw.length,
        completed: true,
        headersFinished: true,
        method: 'GET',
        target: '/a%20b?x=1#frag',
        path: '/a b',
        query: 'x=1',
        version: '1.1',
        headers: { HTTP_HOST: 'example.com', HTTP_ACCEPT: '*/*' },
        keepAlive: true,
        forceClose: false,
        expectContinue: false,
        chunked: false,
        body: null,
        error: null,
      });
    });

    it('waits for the end of the head', () => {
      const fed = feed([`GET / HTTP/1.1\r\n${HOST}`]);
      expect(fed.parser.completed).to.equal(false);
      expect(fed.parser.headersFinished).to.equal(false);
      expect(fed.consumed).to.equal(35);
    });

    it('consumes nothing more once completed', () => {
      const fed = feed([`GET / HTTP/1.0\r\n\r\n`]);
      expect(fed.parser.received(Buffer.from('GET / HTTP/1.0\r\n\r\n'))).to.equal(0);
    });

    it('does not take LF LF for the end of the head: it refuses the bare LF', () => {
      const fed = feed(['GET / HTTP/1.0\n\n']);
      expect(fed.parser.headersFinished).to.equal(false);
      expect(fed.request.error?.status).to.equal(400);
    });
  });

  describe('leading bytes', () => {
    for (const lead of ['\r\n', '\r\n\r\n', '  \t ', '\r\n \t\r\n']) {
      it(`skips ${JSON.stringify(lead)} before the request line`, () => {
        const raw = `${lead}GET /x HTTP/1.0\r\n\r\n`;
        const fed = feed([`${raw}NEXT`]);
        expect(fed.request.error).to.equal(null);
        expect(fed.request.path).to.equal('/x');
        expect(fed.consumed).to.equal(raw.length);
      });
    }

    it('consumes a read made only of empty lines and keeps waiting', () => {
      const fed = feed(['\r\n\r\n']);
      expect(fed.consumed).to.equal(4);
      expect(fed.parser.completed).to.equal(false);
    });

    for (const lead of ['\n', '\r', '\rG', '\r\r\n', ' \n', '\r\n\n']) {
      it(`refuses the bare CR or LF in the leading bytes ${JSON.stringify(lead)}`, () => {
        expectError(`${lead}GET / HTTP/1.0\r\n\r\n`, 400, 'Bare CR or LF found in HTTP message');
      });
    }
  });

  describe('bare CR or LF in the head', () => {
    for (const raw of [
      'GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET /a\nb HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET / HTTP/1.1\r\r\nHost: a\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nFoo: a\nb\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nFoo: a\rb\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nFoo: bar\r\r\n\r\n',
      'GET / HTTP/1.1\nHost: a\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\n\r\n\r\n',
      'GET / HTTP/1.1\r\nX: 1\r\n\nY: 2\r\n\r\n',
    ]) {
      it(`refuses ${JSON.stringify(raw)}`, () => {
        expectError(raw, 400, 'Bare CR or LF found in HTTP message');
      });
    }

    // No CRLF CRLF ever comes: the head is refused as soon as the bare byte is in, not at channelTimeout.
    for (const raw of ['GET / HTTP/1.1\nHost: a\n\n', 'GET / HTTP/1.1\r\nHost: a\n\n', 'GET / HTTP/1.1\rHost: a', 'GET /\n']) {
      it(`refuses ${JSON.stringify(raw)} before the head is complete, in one read and byte by byte`, () => {
        for (const pieces of [[raw], bytewise(raw)]) {
          const fed = feed(pieces);
          expect(fed.parser.completed).to.equal(true);
          expect(fed.request.error?.detail).to.equal('Bare CR or LF found in HTTP message');
        }
      });
    }

    it('waits on a CR that ends a read, and takes the LF of the next', () => {
      const fed = feed(['GET / HTTP/1.1\r', '\nHost: a\r', '\n']);
      expect(fed.parser.completed).to.equal(false);
      expect(fed.request.error).to.equal(null);
      fed.parser.received(Buffer.from('\r\n'));
      expect(fed.parser.completed).to.equal(true);
      expect(fed.request.error).to.equal(null);
    });
  });

  describe('header size limit', () => {
    const head = 'GET / HTTP/1.0\r\nX: 123456\r\n\r\n';
    it('is 29 bytes long (the numbers below rely on it)', () => {
      expect(head.length).to.equal(29);
    });

    it('refuses a head of exactly the limit, terminator included', () => {
      expectError(head, 431, 'exceeds max_header of 29', { maxRequestHeaderSize: 29 });
    });

    it('accepts a head one byte under the limit', () => {
      expect(parse(head, { maxRequestHeaderSize: 30 }).error).to.equal(null);
    });

    it('counts the same across reads split at every byte', () => {
      expect(summary(feed(bytewise(head), { maxRequestHeaderSize: 29 })).error).to.deep.equal([431, 'exceeds max_header of 29']);
      expect(summary(feed(bytewise(head), { maxRequestHeaderSize: 30 })).error).to.equal(null);
    });

    it('refuses an unterminated head once the running total reaches the limit', () => {
      const fed = feed(['GET / HTTP/1.0\r\n', 'X: aaaaaaaaaaaaaaa'], { maxRequestHeaderSize: 30 });
      expect(summary(fed).error).to.deep.equal([431, 'exceeds max_header of 30']);
    });

    it('notes a refused HEAD request however its method was split across reads (its page then has no body)', () => {
      const raw = `HEAD /${'a'.repeat(40)} HTTP/1.1\r\nHost: x\r\n`;
      for (const pieces of [[raw], ['HEA', raw.slice(3)], ['H', 'E', 'A', 'D', raw.slice(4)], bytewise(raw)]) {
        const fed = feed(pieces, { maxRequestHeaderSize: 30 });
        expect([fed.request.error?.status, fed.request.method], pieces.slice(0, 2).join('|')).to.deep.equal([414, 'HEAD']);
      }
      expect(feed(['HEADX /', 'a'.repeat(40)], { maxRequestHeaderSize: 30 }).request.method).to.not.equal('HEAD');
    });

    it('counts skipped leading empty lines', () => {
      expectError(`\r\n\r\n${head}`, 431, 'exceeds max_header of 32', { maxRequestHeaderSize: 32 });
      expectError('\r\n'.repeat(20), 431, 'exceeds max_header of 30', { maxRequestHeaderSize: 30 });
    });

    it('does not count the body or the next request', () => {
      const fed = feed([`${head}${head}`], { maxRequestHeaderSize: 30 });
      expect(fed.request.error).to.equal(null);
      expect(fed.consumed).to.equal(head.length);
    });
  });

  describe('request line', () => {
    for (const line of [
      'GET  / HTTP/1.1',
      'GET /  HTTP/1.1',
      'GET / http/1.1',
      'GET / HTTP/1.10',
      'GET / HTTP/1.1.1',
      'GET / HTTP/.1.',
      'GET / HTTP/1',
      'GET / HTTP/11',
      'GET / HTTP/a.1',
      'GET / HTTP 1.1',
      'GET /info RTSP/1.0',
      'GET\t/ HTTP/1.1',
      'GE\x00T / HTTP/1.1',
      'GET(x) / HTTP/1.1',
      'HTTP/1.0 GET /foo',
      'GET /',
      'GET / ',
      'GET',
      '/ HTTP/1.1',
      'GET / HTTP/1.1 x',
    ]) {
      it(`refuses ${JSON.stringify(line)}`, () => {
        expectError(`${line}\r\n${HOST}\r\n`, 400, 'Start line is invalid');
      });
    }

    it('refuses a method with a lower-case letter', () => {
      expectError(`get / HTTP/1.1\r\n${HOST}\r\n`, 400, 'Malformed HTTP method "get"');
      expectError(`GeT / HTTP/1.1\r\n${HOST}\r\n`, 400, 'Malformed HTTP method "GeT"');
    });

    for (const method of ['M-SEARCH', 'G3T', '123', "!#$%&'*+-.^_`|~"]) {
      it(`accepts the method ${method}`, () => {
        const request = parse(`${method} / HTTP/1.1\r\n${HOST}\r\n`);
        expect(request.error).to.equal(null);
        expect(request.method).to.equal(method);
      });
    }

    it('tolerates trailing SP and HTAB', () => {
      expect(parse(`GET / HTTP/1.1 \t \r\n${HOST}\r\n`).error).to.equal(null);
    });

    it('refuses a trailing VT', () => {
      expectError(`GET / HTTP/1.1\x0b\r\n${HOST}\r\n`, 400, 'Start line is invalid');
    });

    it('serves HTTP/1.0 and HTTP/1.1 natively and HTTP/1.x as 1.1', () => {
      expect(parse('GET / HTTP/1.0\r\n\r\n').version).to.equal('1.0');
      expect(parse(`GET / HTTP/1.1\r\n${HOST}\r\n`).version).to.equal('1.1');
      expect(parse(`GET / HTTP/1.9\r\n${HOST}\r\n`).version).to.equal('1.1');
    });

    for (const version of ['2.0', '0.9', '3.1', '9.9']) {
      it(`answers HTTP/${version} with 505`, () => {
        expectError(`GET / HTTP/${version}\r\n${HOST}\r\n`, 505, `HTTP/${version} is not supported`);
      });
    }
  });

  describe('request target', () => {
    for (const target of ['/\xd0', '/a\x7f', '/a\tb', '/\x01x', 'foo', 'http://[::1/']) {
      it(`refuses ${JSON.stringify(target)} with Bad URI`, () => {
        expectError(`GET ${target} HTTP/1.1\r\n${HOST}\r\n`, 400, 'Bad URI');
      });
    }

    it('takes the path of an absolute-form target, and its authority as the Host (RFC 9112 section 3.2.2)', () => {
      const request = parse(`GET http://other.example:81/p?q HTTP/1.1\r\n${HOST}\r\n`);
      expect([request.path, request.query, request.headers.HTTP_HOST]).to.deep.equal(['/p', 'q', 'other.example:81']);
      // HTTP/1.0 may send no Host: the target's authority is the request's host all the same.
      expect(parse('GET http://other.example/ HTTP/1.0\r\n\r\n').headers.HTTP_HOST).to.equal('other.example');
      // Without an authority, the Host field stands; and so it does with another scheme's authority.
      expect(parse(`GET a:b HTTP/1.1\r\n${HOST}\r\n`).headers.HTTP_HOST).to.equal('example.com');
      const foreign = parse(`GET foo://evil.example/x HTTP/1.1\r\n${HOST}\r\n`);
      expect([foreign.path, foreign.headers.HTTP_HOST]).to.deep.equal(['/x', 'example.com']);
    });

    it('still requires a valid Host on HTTP/1.1 with an absolute-form target', () => {
      expectError('GET http://other.example/ HTTP/1.1\r\n\r\n', 400, 'Missing Host header');
      expectError('GET http://other.example/ HTTP/1.1\r\nHost: a b\r\n\r\n', 400, 'Invalid Host header');
    });

    for (const host of ['a b', 'a/b', 'evil@good', 'a, b', '[::1', 'a:8x', '"a"', '\xe9', ':80', ':']) {
      it(`refuses the Host ${JSON.stringify(host)} (RFC 9112 section 3.2)`, () => {
        expectError(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`, 400, 'Invalid Host header');
      });
    }

    it('refuses a Host that obs-fold makes invalid, and accepts an empty one', () => {
      expectError('GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n', 400, 'Invalid Host header');
      expect(parse('GET / HTTP/1.1\r\nHost:\r\n\r\n').error).to.equal(null);
    });

    it('answers CONNECT with 501, whatever its target: garcon opens no tunnels', () => {
      expectError(`CONNECT example.com:443 HTTP/1.1\r\n${HOST}\r\n`, 501, 'CONNECT is not supported: garcon does not open tunnels');
      expectError(`CONNECT / HTTP/1.0\r\n\r\n`, 501, 'CONNECT is not supported: garcon does not open tunnels');
    });

    it('accepts *, a // path and a scheme:path target', () => {
      expect(parse(`OPTIONS * HTTP/1.1\r\n${HOST}\r\n`).path).to.equal('*');
      expect(parse(`GET //a/b HTTP/1.1\r\n${HOST}\r\n`).path).to.equal('//a/b');
      expect(parse(`GET a:b?x HTTP/1.1\r\n${HOST}\r\n`).path).to.equal('b');
    });

    it('decodes the path byte by byte', () => {
      const request = parse(`GET /a%C5%9B%2f%00%25%zz+ HTTP/1.1\r\n${HOST}\r\n`);
      expect(request.path).to.equal('/a\u00c5\u009b/\u0000%%zz+');
      expect(request.target).to.equal('/a%C5%9B%2f%00%25%zz+');
    });
  });

  describe('header fields', () => {
    it('maxRequestHeaderFields counts fields and continuation lines, not a malformed line, and leaves Connection room for keywords', () => {
      const limits = { maxRequestHeaderFields: 2 };
      expect(parse('GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n\r\n', limits).error).to.equal(null);
      expectError('GET / HTTP/1.1\r\nHost: x\r\nA: b\r\nC: d\r\n\r\n', 431, 'more than 2 header fields', limits);
      expectError('GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n', 431, 'more than 2 header fields', limits);
      // A line that is neither a field nor a continuation is refused for what it is.
      expectError('GET / HTTP/1.1\r\nHost: x\r\nA: b\r\nbad line\r\n\r\n', 400, 'Invalid header', limits);
      // Keywords name no field: a low limit still takes them.
      const keywords = parse('GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close, upgrade\r\n\r\n', limits);
      expect([keywords.error, keywords.keepAlive]).to.deep.equal([null, false]);
    });

    it('maps every name right past the name cache (more distinct names than it keeps), as sent and again', () => {
      // Names that differ in one place, hash near each other and outnumber the cache's 1,024 entries.
      const names = Array.from({ length: 1500 }, (_, i) => `X-Many-${i.toString(36)}`);
      const raw = `GET / HTTP/1.1\r\n${HOST}${names.map((n, i) => `${n}: v${i}\r\n`).join('')}\r\n`;
      for (let round = 0; round < 2; round++) {
        const request = parse(raw, { maxRequestHeaderSize: 1 << 20, maxRequestHeaderFields: 2000 });
        expect(request.error).to.equal(null);
        names.forEach((name, i) => expect(request.headers[`HTTP_${name.toUpperCase().replaceAll('-', '_')}`]).to.equal(`v${i}`));
        expect(Object.keys(request.headers)).to.have.length(names.length + 1);
      }
      // The same names in another case are other spellings of the same fields.
      const lower = parse(`GET / HTTP/1.1\r\n${HOST}x-many-1: a\r\nX-MANY-1: b\r\n\r\n`);
      expect(lower.headers.HTTP_X_MANY_1).to.equal('a, b');
      // With the cache full, a new name's repeat is still joined to it, and only within its own head.
      const twice = parse(`GET / HTTP/1.1\r\n${HOST}X-Not-Cached-Twice: a\r\nx-not-cached-twice: b\r\n\r\n`);
      expect(twice.headers.HTTP_X_NOT_CACHED_TWICE).to.equal('a, b');
      expect(parse(`GET / HTTP/1.1\r\n${HOST}x-many-1: c\r\n\r\n`).headers.HTTP_X_MANY_1).to.equal('c');
      // A cached spelling (X-Many-1, seen first above) and one the full cache cannot take, either way round.
      expect(parse(`GET / HTTP/1.1\r\n${HOST}X-Many-1: a\r\nx-MaNy-1: b\r\n\r\n`).headers.HTTP_X_MANY_1).to.equal('a, b');
      expect(parse(`GET / HTTP/1.1\r\n${HOST}x-mAnY-1: a\r\nX-Many-1: b\r\n\r\n`).headers.HTTP_X_MANY_1).to.equal('a, b');
      expectError(`GET / HTTP/1.1\r\nhOsT: a\r\nHost: b\r\n\r\n`, 400, 'Duplicate header: Host');
    });

    function headersOf(fields: string): Record<string, string> {
      const request = parse(`GET / HTTP/1.0\r\n${fields}\r\n`);
      expect(request.error).to.equal(null);
      return { ...request.headers };
    }

    it('maps names to environ keys', () => {
      expect(headersOf('Content-Type: text/plain\r\ncontent-length: 0\r\nX-Foo-Bar: 1\r\nhost: h\r\n')).to.deep.equal({
        CONTENT_TYPE: 'text/plain',
        CONTENT_LENGTH: '0',
        HTTP_X_FOO_BAR: '1',
        HTTP_HOST: 'h',
      });
    });

    it('trims only SP and HTAB around values', () => {
      expect(headersOf('A:bar\r\nB: bar \t \r\nC:\t\xa0x\x85 \r\nD:\r\nE:   \r\n')).to.deep.equal({
        HTTP_A: 'bar',
        HTTP_B: 'bar',
        HTTP_C: '\xa0x\x85',
        HTTP_D: '',
        HTTP_E: '',
      });
    });

    it('keeps inner whitespace and obs-text as latin-1', () => {
      expect(headersOf('Foo: a \t b\xffc\r\n')).to.deep.equal({ HTTP_FOO: 'a \t b\u00ffc' });
    });

    it('joins repeated fields in arrival order', () => {
      expect(headersOf('A: 1\r\na: 2\r\nA: 3\r\n')).to.deep.equal({ HTTP_A: '1, 2, 3' });
    });

    it('drops names containing "_"', () => {
      expect(headersOf('X_Foo: a\r\nX-Foo: b\r\nX-Auth_User: c\r\n')).to.deep.equal({ HTTP_X_FOO: 'b' });
    });

    it('unfolds obsolete line folding into one SP', () => {
      expect(headersOf('Foo: a \r\n \t b\r\nBar: c\r\n\td\r\n e \r\n')).to.deep.equal({ HTTP_FOO: 'a b', HTTP_BAR: 'c d e' });
      expect(headersOf('Foo:\r\n b\r\nBar: c\r\n \r\n')).to.deep.equal({ HTTP_FOO: 'b', HTTP_BAR: 'c' });
    });

    it('refuses a fold as the first header line', () => {
      expectError('GET / HTTP/1.0\r\n Host: 0\r\n\r\n', 400, 'Malformed header line');
    });

    for (const line of [
      'Foo : bar',
      ': a',
      'Foo',
      'Foo bar',
      'Fo\x01o: a',
      'F(o): a',
      'Foo: a\x00b',
      'Foo: a\x7fb',
      'foo:\x0bbar',
      'Foo: a\x1fb',
      'Foo: a\x08',
    ]) {
      it(`refuses the header line ${JSON.stringify(line)}`, () => {
        expectError(`GET / HTTP/1.0\r\n${line}\r\n\r\n`, 400, 'Invalid header');
      });
    }

    it('refuses a bad byte in a folded continuation', () => {
      expectError('GET / HTTP/1.0\r\nFoo: a\r\n b\x00\r\n\r\n', 400, 'Invalid header');
    });

    for (const [first, second] of [
      ['Host: a', 'host: b'],
      ['Content-Length: 1', 'Content-Length: 1'],
      ['content-type: a', 'Content-TYPE: b'],
    ]) {
      it(`refuses a second ${second!.split(':')[0]}`, () => {
        const name = second!.split(':')[0]!;
        expectError(`GET / HTTP/1.0\r\n${first!}\r\n${second!}\r\n\r\n`, 400, `Duplicate header: ${name}`);
      });
    }

    it('refuses an HTTP/1.1 request without Host, not an HTTP/1.0 one', () => {
      expectError('GET / HTTP/1.1\r\n\r\n', 400, 'Missing Host header');
      expect(parse('GET / HTTP/1.0\r\n\r\n').error).to.equal(null);
    });

    it('reports header errors before request-line errors (version stays 1.0)', () => {
      const request = parse('GET / HTTP/1.1\r\nFoo : bar\r\n\r\n');
      expect(request.error?.detail).to.equal('Invalid header');
      expect(request.version).to.equal('1.0');
      expect(parse('get / HTTP/1.1\r\nFoo : bar\r\n\r\n').error?.detail).to.equal('Invalid header');
    });

    it('rejects a 200 000-byte malicious value in one pass', () => {
      // Linear by construction (one loop over the bytes): this only checks the outcome.
      const value = 'a \t'.repeat(66667);
      const limits = { maxRequestHeaderSize: 1 << 20 };
      expectError(`GET / HTTP/1.0\r\nX: ${value}\x00\r\n\r\n`, 400, 'Invalid header', limits);
      expectError(`GET / HTTP/1.0\r\nX: ${value} \r\nX${value}\r\n\r\n`, 400, 'Invalid header', limits);
      expect(parse(`GET / HTTP/1.0\r\nX: ${value}x\r\n\r\n`, limits).headers.HTTP_X).to.have.length(200002);
    });
  });

  describe('Connection', () => {
    const cases: Array<[string, string | null, boolean]> = [
      ['1.1', null, true],
      ['1.1', 'close', false],
      ['1.1', 'Keep-Alive, CLOSE', false],
      ['1.1', 'foo, bar', true],
      ['1.1', 'closed, xclose, clos', true],
      ['1.0', null, false],
      ['1.0', 'keep-alive', true],
      ['1.0', 'Upgrade , Keep-Alive', true],
      ['1.0', 'keep-alive, close', false],
      ['1.0', 'keep-alivex', false],
    ];
    for (const [version, connection, keepAlive] of cases) {
      it(`HTTP/${version} with Connection: ${connection ?? '(none)'} -> keepAlive ${keepAlive}`, () => {
        const field = connection === null ? '' : `Connection: ${connection}\r\n`;
        const request = parse(`GET / HTTP/${version}\r\n${HOST}${field}\r\n`);
        expect(request.error).to.equal(null);
        expect(request.keepAlive).to.equal(keepAlive);
        if (connection !== null) expect(request.hopFields?.HTTP_CONNECTION).to.equal(connection);
        expect(request.headers).not.to.have.property('HTTP_CONNECTION');
      });
    }
  });

  describe('field flags (what the adjustment pipeline has to do)', () => {
    const cases: Array<[string, number]> = [
      ['', FieldFlag.None],
      ['Accept: */*\r\nUser-Agent: x\r\n', FieldFlag.None],
      ['Connection: close\r\n', FieldFlag.HopByHop],
      ['upgrade: h2c\r\n', FieldFlag.HopByHop],
      ['Proxy-Authorization: Basic eA==\r\n', FieldFlag.HopByHop],
      ['x-FORWARDED-for: 10.0.0.1\r\n', FieldFlag.Proxy],
      ['Forwarded: for=10.0.0.1\r\nTE: trailers\r\n', FieldFlag.HopByHop | FieldFlag.Proxy],
      ['X_Forwarded_For: 10.0.0.1\r\n', FieldFlag.None], // dropped: '_' in the name
    ];
    for (const [fields, flags] of cases) {
      it(`${JSON.stringify(fields) || '(no fields)'} -> ${flags}`, () => {
        const request = parse(`GET / HTTP/1.1\r\n${HOST}${fields}\r\n`);
        expect(request.error).to.equal(null);
        expect(request.fieldFlags).to.equal(flags);
        // Hop-by-hop fields are kept apart from the headers the environ is built from.
        for (const key of Object.keys(request.headers)) expect(HOP_BY_HOP_KEYS).not.to.include(key);
        expect(request.hopFields !== null).to.equal((flags & FieldFlag.HopByHop) !== 0);
      });
    }
  });

  describe('Transfer-Encoding', () => {
    const post = (fields: string, version = '1.1'): string => `POST / HTTP/${version}\r\n${HOST}${fields}\r\n`;

    it('refuses it on HTTP/1.0', () => {
      expectError(post('Transfer-Encoding: chunked\r\n', '1.0'), 400, 'Transfer-Encoding is not allowed in HTTP/1.0 requests');
    });

    for (const value of ['gzip, chunked', 'chunked, gzip', 'identity', '\x85chunked', 'chun\xe2\x84\xaaed', 'chunked;q=1']) {
      it(`answers ${JSON.stringify(value)} with 501`, () => {
        expectError(post(`Transfer-Encoding: ${value}\r\n`), 501, 'Transfer-Encoding requested is not supported.');
      });
    }

    it('answers chunked plus an empty second field with 501', () => {
      expectError(post('Transfer-Encoding: chunked\r\nTransfer-Encoding:\r\n'), 501, 'Transfer-Encoding requested is not supported.');
    });

    it('answers chunked twice with 501', () => {
      const detail = 'Transfer-Encoding is invalid. Multiple chunked encodings requested.';
      expectError(post('Transfer-Encoding: chunked, chunked\r\n'), 501, detail);
      expectError(post('Transfer-Encoding: chunked\r\nTransfer-Encoding: CHUNKED\r\n'), 501, detail);
    });

    it('accepts chunked among empty list elements, in any case, and keeps the field out of the headers', () => {
      const fed = feed([`${post('Transfer-Encoding: ,Chunked ,\r\n')}0\r\n\r\n`]);
      expect(fed.request.error).to.equal(null);
      expect(fed.request.chunked).to.equal(true);
      expect(fed.request.headers).to.not.have.property('HTTP_TRANSFER_ENCODING');
    });

    it('answers an empty value, or empty elements only, with 501: the field is there and chunked is not final', () => {
      for (const value of ['', ' ', ',', ' , ,']) {
        expectError(post(`Transfer-Encoding:${value}\r\nContent-Length: 3\r\n`), 501, 'Transfer-Encoding requested is not supported.');
      }
      expectError(post('Transfer-Encoding:\r\n', '1.0'), 400, 'Transfer-Encoding is not allowed in HTTP/1.0 requests');
    });

    it('drops Content-Length without validating it and forces a close', () => {
      const fed = feed([`${post('Content-Length: abc\r\nTransfer-Encoding: chunked\r\n')}3\r\nabc\r\n0\r\n\r\n`]);
      expect(summary(fed)).to.deep.include({ error: null, forceClose: true, keepAlive: true, body: 'abc' });
      expect(fed.request.headers.CONTENT_LENGTH).to.equal('3');
    });

    it('does not force a close without Content-Length', () => {
      expect(feed([`${post('Transfer-Encoding: chunked\r\n')}0\r\n\r\n`]).request.forceClose).to.equal(false);
    });
  });

  describe('Content-Length', () => {
    for (const value of ['abc', '+10', '-1', '0x3', '1, 1', '', '1 1', '\u0661', '1.0']) {
      it(`refuses ${JSON.stringify(value)}`, () => {
        expectError(`POST / HTTP/1.0\r\nContent-Length: ${value}\r\n\r\n`, 400, 'Content-Length is invalid');
      });
    }

    it('accepts surrounding whitespace and leading zeros, keeping the text', () => {
      const head = 'POST / HTTP/1.0\r\nContent-Length:  003 \r\n\r\n';
      const fed = feed([`${head}abcdef`]);
      expect(summary(fed)).to.deep.include({ error: null, body: 'abc', consumed: head.length + 3 });
      expect(fed.request.headers.CONTENT_LENGTH).to.equal('003');
    });

    it('gives no body for a zero length', () => {
      const head = 'POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\n';
      expect(feed([`${head}GET`]).consumed).to.equal(head.length);
      expect(parse('POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\n').body).to.equal(null);
    });

    it('refuses a length at the limit right after the head', () => {
      const fed = feed(['POST / HTTP/1.0\r\nContent-Length: 10\r\n\r\n'], { maxRequestBodySize: 10 });
      expect(summary(fed).error).to.deep.equal([413, 'exceeds max_body of 10']);
      expect(fed.parser.headersFinished).to.equal(false);
      expect(parse('POST / HTTP/1.0\r\nContent-Length: 9\r\n\r\n', { maxRequestBodySize: 10 }).error).to.equal(null);
    });

    it('compares very long lengths exactly', () => {
      expectError(`POST / HTTP/1.0\r\nContent-Length: ${'9'.repeat(400)}\r\n\r\n`, 413, 'exceeds max_body of 1073741824');
      expect(parse(`POST / HTTP/1.0\r\nContent-Length: ${'0'.repeat(400)}5\r\n\r\n`).error).to.equal(null);
      const limit = 2 ** 53;
      expectError(`POST / HTTP/1.0\r\nContent-Length: 9007199254740992\r\n\r\n`, 413, `exceeds max_body of ${limit}`, {
        maxRequestBodySize: limit,
      });
    });
  });

  describe('Expect', () => {
    const expect100 = (version: string, fields: string): boolean =>
      parse(`POST / HTTP/${version}\r\n${HOST}Expect: 100-Continue\r\n${fields}\r\n`).expectContinue;

    it('is set for an HTTP/1.1 request with a body', () => {
      expect(expect100('1.1', 'Content-Length: 5\r\n')).to.equal(true);
      expect(expect100('1.1', 'Transfer-Encoding: chunked\r\n')).to.equal(true);
    });

    it('is not set without a body, on HTTP/1.0, or for another expectation', () => {
      expect(expect100('1.1', '')).to.equal(false);
      expect(expect100('1.1', 'Content-Length: 0\r\n')).to.equal(false);
      expect(expect100('1.0', 'Content-Length: 5\r\n')).to.equal(false);
      expect(parse(`POST / HTTP/1.1\r\n${HOST}Expect: x-other\r\nContent-Length: 5\r\n\r\n`).expectContinue).to.equal(false);
      expect(parse(`POST / HTTP/1.1\r\n${HOST}Expect: 100-continuex\r\nContent-Length: 5\r\n\r\n`).expectContinue).to.equal(false);
    });

    it('is set when 100-continue is one member of the list (RFC 9110 section 10.1.1), or the field is repeated', () => {
      expect(parse(`POST / HTTP/1.1\r\n${HOST}Expect: x-other, 100-continue\r\nContent-Length: 5\r\n\r\n`).expectContinue).to.equal(true);
      expect(parse(`POST / HTTP/1.1\r\n${HOST}Expect: 100-continue\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n`).expectContinue).to.equal(true);
    });

    it('completes a body-less Expect request at once', () => {
      const fed = feed([`GET / HTTP/1.1\r\n${HOST}Expect: 100-continue\r\n\r\n`]);
      expect(fed.parser.completed).to.equal(true);
      expect(fed.request.error).to.equal(null);
    });
  });

  describe('body', () => {
    it('reports headersFinished before the body has arrived', () => {
      const fed = feed([`POST / HTTP/1.1\r\n${HOST}Content-Length: 5\r\n\r\nab`]);
      expect(fed.parser.headersFinished).to.equal(true);
      expect(fed.parser.completed).to.equal(false);
      expect(fed.parser.received(Buffer.from('cdeXYZ'))).to.equal(3);
      expect(fed.parser.completed).to.equal(true);
      expect(fed.request.body!.input().read().toString()).to.equal('abcde');
    });

    it('keeps body bytes as views of the received buffer, and gives the app its own copy', () => {
      const data = Buffer.from(`POST / HTTP/1.0\r\nContent-Length: 4\r\n\r\nbody`);
      const parser = new RequestParser(LIMITS);
      parser.received(data);
      // Not copied on arrival: a change to the read shows in the body...
      data.write('B', data.length - 4);
      const read = parser.request.body!.input().read();
      expect(read.toString()).to.equal('Body');
      // ...but what the app reads does not share the read's memory (the head is there).
      expect(read.buffer.byteLength).to.equal(4);
    });

    it('spills a large body to a temp file', () => {
      const payload = 'x'.repeat(100);
      const fed = feed([`POST / HTTP/1.0\r\nContent-Length: 100\r\n\r\n`, payload.slice(0, 60), payload.slice(60)], {
        inbufOverflow: 64,
      });
      expect(fed.request.body!.spilled).to.equal(true);
      expect(fed.request.body!.input().read().toString()).to.equal(payload);
      fed.request.close();
    });

    it('spills a large chunked body to a temp file', () => {
      const fed = feed([`POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n`, `64\r\n${'y'.repeat(100)}\r\n0\r\n\r\n`], {
        inbufOverflow: 64,
      });
      expect(fed.request.body!.spilled).to.equal(true);
      expect(fed.request.headers.CONTENT_LENGTH).to.equal('100');
      fed.request.close();
    });

    it('gives a null body and CONTENT_LENGTH 0 for an empty chunked body', () => {
      const fed = feed([`POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`]);
      expect(summary(fed)).to.deep.include({ body: null, completed: true, error: null });
      expect(fed.request.headers.CONTENT_LENGTH).to.equal('0');
    });

    it('reports chunked framing errors', () => {
      const fed = feed([`POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX`]);
      expect(summary(fed)).to.deep.include({ error: [400, 'Chunk not properly terminated'], headersFinished: true, completed: true });
    });

    it('applies the body limit to the chunked framing', () => {
      const raw = `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`;
      expectError(raw, 413, 'exceeds max_body of 10', { maxRequestBodySize: 10 });
    });
  });

  describe('pipelining', () => {
    const first = `POST /1 HTTP/1.1\r\n${HOST}Content-Length: 5\r\n\r\nhello`;
    const chunkedFirst = `POST /1 HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nT: 1\r\n\r\n`;
    const second = `GET /2 HTTP/1.1\r\n${HOST}\r\n`;

    for (const [name, request] of [
      ['Content-Length', first],
      ['chunked', chunkedFirst],
      ['body-less', `GET /1 HTTP/1.1\r\n${HOST}\r\n`],
    ]) {
      it(`stops consuming exactly at the end of a ${name} request`, () => {
        const data = Buffer.from(request! + second, 'latin1');
        const parser = new RequestParser(LIMITS);
        const consumed = parser.received(data);
        expect(consumed).to.equal(request!.length);
        expect(parser.completed).to.equal(true);
        const next = new RequestParser(LIMITS);
        expect(next.received(data.subarray(consumed))).to.equal(second.length);
        expect(next.request.path).to.equal('/2');
      });
    }
  });

  describe('split at every byte boundary', () => {
    const valid = [
      `GET /a?b HTTP/1.1\r\n${HOST}Connection: close\r\nFoo: a\r\n  b\r\n\r\n`,
      `\r\nPOST /p HTTP/1.0\r\nContent-Length: 7\r\nConnection: keep-alive\r\n\r\npayload`,
      `POST /c HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n4;e=1\r\nwiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\n`,
    ];
    const invalid = [
      'GET / HTTP/1.1\r\nHost: a\r\nFoo: a\rb\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nFoo : b\r\n\r\n',
      `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX`,
      `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n5;a =b\r\nhello\r\n0\r\n\r\n`,
      `GET / HTTP/2.0\r\n${HOST}\r\n`,
    ];

    for (const raw of [...valid, ...invalid]) {
      it(`parses ${JSON.stringify(raw.slice(0, 40))}... the same however it is split`, () => {
        const whole = summary(feed([raw + 'NEXT']));
        if (valid.includes(raw)) expect(whole.error).to.equal(null);
        else expect(whole.error).to.not.equal(null);
        if (whole.error === null) {
          expect(whole.consumed).to.equal(raw.length);
          expect(summary(feed([...bytewise(raw), 'NEXT']))).to.deep.equal(whole);
        } else {
          expect(summary(feed(bytewise(raw))).error).to.deep.equal(whole.error);
        }
        for (let cut = 1; cut < raw.length; cut++) {
          const split = summary(feed([raw.slice(0, cut), raw.slice(cut) + 'NEXT']));
          if (whole.error === null) expect(split, `cut at ${cut}`).to.deep.equal(whole);
          else expect(split.error, `cut at ${cut}`).to.deep.equal(whole.error);
        }
      });
    }
  });
});
