import { expect } from 'chai';
import { AppContractError } from '../src/errors.js';
import { serializeHead, statusAllowsBody, validateAppHead, withoutContentLength, type Framing } from '../src/response-head.js';

const framing: Framing = { version: '1.1', contentLength: null, chunked: false, connection: null, date: 'D', ident: 'garcon' };

describe('validateAppHead', () => {
  it('accepts a normal head and reads Content-Length, Date and Server', () => {
    const head = validateAppHead('200 OK', [['Content-Length', '007'], ['Date', 'x'], ['server', 'y']]);
    expect(head).to.include({ code: 200, contentLength: 7, hasDate: true, hasServer: true });
  });

  const refused: [string, unknown, unknown][] = [
    ['a status that is not a string', 200, []],
    ['a status without three digits', '20 OK', []],
    ['a status with CR LF', '200 OK\r\nX: y', []],
    ['a status with no space after the code', '200OK', []],
    ['an interim status (100 Continue)', '100 Continue', []],
    ['an interim status (103 Early Hints)', '103 Early Hints', [['Link', '</a.css>; rel=preload']]],
    ['a status code above 599', '600 Beyond', []],
    ['a status code of 999', '999 X', []],
    ['headers that are not an array', '200 OK', {}],
    ['a header that is not a pair', '200 OK', [['a']]],
    ['a header value that is not a string', '200 OK', [['a', 1]]],
    ['a header name with a space', '200 OK', [['Bad Name', 'v']]],
    ['a header name with a colon', '200 OK', [['a:b', 'v']]],
    ['an empty header name', '200 OK', [['', 'v']]],
    ['LF in a value', '200 OK', [['X', 'a\nb']]],
    ['NUL in a value', '200 OK', [['X', 'a\0b']]],
    ['a character beyond latin-1', '200 OK', [['X', 'snow ☃']]],
    ['Connection', '200 OK', [['Connection', 'close']]],
    ['Transfer-Encoding', '200 OK', [['transfer-encoding', 'chunked']]],
    ['Keep-Alive', '200 OK', [['Keep-Alive', 'timeout=5']]],
    ['Upgrade', '200 OK', [['Upgrade', 'h2c']]],
    ['TE', '200 OK', [['TE', 'trailers']]],
    ['Trailer', '200 OK', [['Trailer', 'X']]],
    ['Proxy-Authenticate', '200 OK', [['Proxy-Authenticate', 'x']]],
    ['Proxy-Authorization', '200 OK', [['Proxy-Authorization', 'x']]],
    ['Content-Length +5 (Q23)', '200 OK', [['Content-Length', '+5']]],
    ['Content-Length -1', '200 OK', [['Content-Length', '-1']]],
    ['Content-Length 5_0', '200 OK', [['Content-Length', '5_0']]],
    ['Content-Length " 5 " (digits only)', '200 OK', [['Content-Length', ' 5 ']]],
    ['Content-Length "5\\t"', '200 OK', [['Content-Length', '5\t']]],
    ['two Content-Length headers', '200 OK', [['Content-Length', '1'], ['content-length', '1']]],
  ];
  for (const [label, status, headers] of refused) {
    it(`refuses ${label}`, () => expect(() => validateAppHead(status, headers)).to.throw(AppContractError));
  }

  it('allows Trailers (not a hop-by-hop name) and obs-text in values', () => {
    expect(() => validateAppHead('200 OK', [['Trailers', 'x'], ['X', 'caf\xe9\t!']])).to.not.throw();
  });

  describe('the same head as last time', () => {
    it('is given back as it was, from a new array of the same strings', () => {
      const first = validateAppHead('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', '13']]);
      const again = validateAppHead('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', '13']]);
      expect(again).to.equal(first);
      expect(again).to.include({ code: 200, contentLength: 13, lines: 'Content-Type: text/plain\r\nContent-Length: 13\r\n' });
    });

    it('is not given back once a status, name or value differs, or a header is added', () => {
      const headers: [string, string][] = [['Content-Type', 'text/plain'], ['Content-Length', '13']];
      const first = validateAppHead('200 OK', headers);
      headers[1] = ['Content-Length', '14']; // the app reuses and changes its array
      expect(validateAppHead('200 OK', headers)).to.include({ contentLength: 14 }).and.not.equal(first);
      expect(validateAppHead('201 Created', headers)).to.include({ code: 201 });
      expect(validateAppHead('201 Created', [...headers, ['Date', 'x']])).to.include({ hasDate: true });
      expect(validateAppHead('201 Created', headers)).to.include({ hasDate: false });
    });

    it('is no way around validation: a changed value is checked again', () => {
      validateAppHead('200 OK', [['X', 'ok']]);
      expect(() => validateAppHead('200 OK', [['X', 'ok\r\nSet-Cookie: a=b']])).to.throw(AppContractError);
      expect(() => validateAppHead('200 OK', [['X', 'ok', 'extra']])).to.throw(AppContractError);
      expect(() => validateAppHead('200 OK', [['X']])).to.throw(AppContractError);
      expect(() => validateAppHead('200 OK\r\n', [['X', 'ok']])).to.throw(AppContractError);
    });
  });
});

describe('withoutContentLength', () => {
  it('drops the app Content-Length, in any case, and keeps the other headers in order', () => {
    const head = validateAppHead('304 Not Modified', [['ETag', '"x"'], ['content-LENGTH', '5'], ['Vary', 'Accept']]);
    const stripped = withoutContentLength(head);
    expect(stripped).to.include({ status: '304 Not Modified', code: 304, contentLength: null, lines: 'ETag: "x"\r\nVary: Accept\r\n' });
    expect(stripped.fields).to.deep.equal(['ETag', '"x"', 'Vary', 'Accept']);
    expect(head).to.include({ contentLength: 5 }); // the app's head is shared: never changed
  });

  it('leaves the last-head memo holding the app head, so its next identical answer is not validated again', () => {
    const headers = [['Content-Length', '5'], ['ETag', '"y"']];
    const head = validateAppHead('304 Not Modified', headers);
    withoutContentLength(head);
    expect(validateAppHead('304 Not Modified', headers)).to.equal(head);
  });

  it('returns a head without Content-Length as it is', () => {
    const head = validateAppHead('204 No Content', [['ETag', '"z"']]);
    expect(withoutContentLength(head)).to.equal(head);
  });
});

describe('statusAllowsBody', () => {
  it('is false for 204, 205 and 304 only', () => {
    expect([204, 205, 304].map(statusAllowsBody)).to.deep.equal([false, false, false]);
    expect([200, 201, 206, 301, 404, 500, 599].map(statusAllowsBody)).to.deep.equal([true, true, true, true, true, true, true]);
  });
});

describe('serializeHead', () => {
  it('writes the status line, the app headers in order, then the server headers', () => {
    const head = validateAppHead('200 OK', [['B', '1'], ['A', '2']]);
    expect(serializeHead(head, { ...framing, chunked: true })).to.equal(
      'HTTP/1.1 200 OK\r\nB: 1\r\nA: 2\r\nTransfer-Encoding: chunked\r\nDate: D\r\nServer: garcon\r\n\r\n');
  });

  it('adds a computed Content-Length and a Connection header', () => {
    const head = validateAppHead('404 Not Found', []);
    expect(serializeHead(head, { ...framing, version: '1.0', contentLength: 3, connection: 'keep-alive' })).to.equal(
      'HTTP/1.0 404 Not Found\r\nContent-Length: 3\r\nConnection: Keep-Alive\r\nDate: D\r\nServer: garcon\r\n\r\n');
  });

  it('writes a head stripped of its Content-Length (204/304) with none added', () => {
    const head = withoutContentLength(validateAppHead('304 Not Modified', [['Content-Length', '5'], ['ETag', '"x"']]));
    expect(serializeHead(head, framing)).to.equal('HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nDate: D\r\nServer: garcon\r\n\r\n');
  });

  it('keeps an app Date and still adds Server; an app Server alone still gets Date and Via', () => {
    const dated = validateAppHead('200 OK', [['Date', 'mine']]);
    expect(serializeHead(dated, framing)).to.equal('HTTP/1.1 200 OK\r\nDate: mine\r\nServer: garcon\r\n\r\n');
    expect(serializeHead(dated, { ...framing, ident: null })).to.equal('HTTP/1.1 200 OK\r\nDate: mine\r\n\r\n');
    const served = validateAppHead('200 OK', [['Server', 'app']]);
    expect(serializeHead(served, framing)).to.equal('HTTP/1.1 200 OK\r\nServer: app\r\nDate: D\r\nVia: 1.1 garcon\r\n\r\n');
    expect(serializeHead(served, { ...framing, version: '1.0' })).to.equal('HTTP/1.0 200 OK\r\nServer: app\r\nDate: D\r\nVia: 1.0 garcon\r\n\r\n');
  });

  it('builds the Date/Server tail anew when the date or the ident changes', () => {
    const head = validateAppHead('200 OK', []);
    expect(serializeHead(head, framing)).to.equal('HTTP/1.1 200 OK\r\nDate: D\r\nServer: garcon\r\n\r\n');
    expect(serializeHead(head, { ...framing, date: 'E' })).to.equal('HTTP/1.1 200 OK\r\nDate: E\r\nServer: garcon\r\n\r\n');
    expect(serializeHead(head, { ...framing, date: 'E', ident: null })).to.equal('HTTP/1.1 200 OK\r\nDate: E\r\n\r\n');
    expect(serializeHead(head, { ...framing, date: 'E', ident: 'other' })).to.equal('HTTP/1.1 200 OK\r\nDate: E\r\nServer: other\r\n\r\n');
  });

  it("names the ident's leading token in Via (a token there, RFC 9110 section 7.6.3), nobody when it has none", () => {
    const served = validateAppHead('200 OK', [['Server', 'app']]);
    expect(serializeHead(served, { ...framing, ident: 'garcon/0.1 (linux)' })).to.equal('HTTP/1.1 200 OK\r\nServer: app\r\nDate: D\r\nVia: 1.1 garcon\r\n\r\n');
    expect(serializeHead(served, { ...framing, ident: '(x)' })).to.equal('HTTP/1.1 200 OK\r\nServer: app\r\nDate: D\r\n\r\n');
  });

  it('keeps the app Date and Server, handles a bare code, and names nobody in Via with no ident', () => {
    const head = validateAppHead('200', [['Date', 'mine'], ['Server', 'app']]);
    expect(serializeHead(head, { ...framing, ident: null, connection: 'close' })).to.equal(
      'HTTP/1.1 200 \r\nDate: mine\r\nServer: app\r\nConnection: close\r\n\r\n');
  });
});
