// wsgi.file_wrapper: seekable files are sized and streamed from the file; the
// others are iterated like any body (contract decision 5, Waitress 5.11).

import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeApp } from '../../fixtures/file-wrapper.js';
import { get, send, startServer, type Running } from '../helpers/http.js';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('wsgi.file_wrapper', () => {
  const file = path.join(os.tmpdir(), `garcon-test-${process.pid}-wrapped.bin`);
  // Several read blocks, not a multiple of any of them.
  const content = randomBytes(3 * 1024 * 1024 + 123);
  let srv: Running;

  before(async () => {
    fs.writeFileSync(file, content);
    srv = await startServer(makeApp(file));
  });
  after(async () => {
    await srv.close();
    fs.rmSync(file, { force: true });
  });

  for (const route of ['/filelike', '/filelike_nocl', '/filelike_longcl', '/fd', '/fd_nocl', '/handle', '/handle_nocl']) {
    it(`${route}: exact Content-Length from the file, whole content, connection kept`, async () => {
      const ex = await send(srv.port, get(route) + get(route), { responses: 2 });
      for (const res of ex.responses) {
        expect(res.headers['content-length']).to.equal(String(content.length));
        expect(sha(res.body)).to.equal(sha(content));
        expect(res.headers).to.not.have.property('connection');
      }
    });
  }

  it('/filelike_offset: sized from the current position', async () => {
    const ex = await send(srv.port, get('/filelike_offset_nocl'), { responses: 1 });
    expect(ex.responses[0]!.headers['content-length']).to.equal(String(content.length - 3));
    expect(sha(ex.responses[0]!.body)).to.equal(sha(content.subarray(3)));
  });

  it('/fd_offset: a descriptor is sized and sent from its current offset', async () => {
    const ex = await send(srv.port, get('/fd_offset_nocl') + get('/fd_offset'), { responses: 2 });
    expect(ex.responses[0]!.headers['content-length']).to.equal(String(content.length - 3));
    expect(sha(ex.responses[0]!.body)).to.equal(sha(content.subarray(3)));
    // The app's Content-Length (the whole file) is more than is left: the file wins, the connection is kept.
    expect(ex.responses[1]!.headers['content-length']).to.equal(String(content.length - 3));
    expect(sha(ex.responses[1]!.body)).to.equal(sha(content.subarray(3)));
  });

  it('/greedy: a read() that returns more than asked never sends past Content-Length', async () => {
    const ex = await send(srv.port, get('/greedy_shortcl') + get('/greedy_shortcl') + get('/filelike'), { responses: 3 });
    expect(ex.responses.map((r) => r.body.length)).to.deep.equal([1, 1, content.length]);
    expect(ex.responses[0]!.body[0]).to.equal(content[0]);
    expect(sha(ex.responses[2]!.body)).to.equal(sha(content));
  });

  it('/after_write: a file returned once write() sent the head is more body, in the same chunked framing', async () => {
    const ex = await send(srv.port, get('/after_write') + get('/filelike_shortcl'), { responses: 2 });
    const res = ex.responses[0]!;
    expect(res.headers['transfer-encoding']).to.equal('chunked');
    expect(sha(res.body)).to.equal(sha(Buffer.concat([Buffer.from('W'), content])));
    expect(ex.responses[1]!.body.length).to.equal(1);
    expect(ex.raw.toString('latin1').match(/HTTP\/1\.1 200 OK/g)).to.have.length(2);
  });

  it('/proc: a descriptor that says it has 0 bytes (a /proc file) is read until it ends', async function () {
    if (!fs.existsSync('/proc/self/status')) this.skip(); // Linux only
    const ex = await send(srv.port, get('/proc') + get('/filelike_shortcl'), { responses: 2 });
    expect(ex.responses[0]!.headers['transfer-encoding']).to.equal('chunked');
    expect(ex.responses[0]!.body.toString()).to.match(/^Name:\t/);
    expect(ex.responses[1]!.body.length).to.equal(1);
  });

  for (const route of ['/filelike_shortcl', '/notfilelike_shortcl']) {
    it(`${route}: exactly the declared byte, twice on one connection`, async () => {
      const ex = await send(srv.port, get(route) + get(route), { responses: 2 });
      expect(ex.responses.map((r) => r.body.length)).to.deep.equal([1, 1]);
      expect(ex.responses[0]!.body[0]).to.equal(content[0]);
    });
  }

  it('/notfilelike: iterated in blocks with the app\'s Content-Length', async () => {
    const ex = await send(srv.port, get('/notfilelike') + get('/notfilelike'), { responses: 2 });
    expect(ex.responses.map((r) => sha(r.body))).to.deep.equal([sha(content), sha(content)]);
  });

  it('/notfilelike_nocl: chunked on HTTP/1.1, close-delimited on HTTP/1.0', async () => {
    const ex11 = await send(srv.port, get('/notfilelike_nocl'), { responses: 1 });
    expect(ex11.responses[0]!.headers['transfer-encoding']).to.equal('chunked');
    expect(sha(ex11.responses[0]!.body)).to.equal(sha(content));
    const ex10 = await send(srv.port, 'GET /notfilelike_nocl HTTP/1.0\r\n\r\n');
    expect(ex10.responses[0]!.headers).to.not.have.property('content-length');
    expect(sha(ex10.responses[0]!.body)).to.equal(sha(content));
    expect(ex10.closed).to.equal(true);
  });

  it('/quietseek: a seek() that returns nothing still sizes the file, from tell()', async () => {
    const ex = await send(srv.port, get('/quietseek_nocl') + get('/quietseek'), { responses: 2 });
    for (const res of ex.responses) {
      expect(res.headers['content-length']).to.equal(String(content.length));
      expect(sha(res.body)).to.equal(sha(content));
    }
  });

  it('/badtell: a tell() that is no position is a 500 before any head, and the server keeps serving', async () => {
    const ex = await send(srv.port, get('/badtell_nocl'));
    expect(ex.raw.toString('latin1')).to.match(/^HTTP\/1\.1 500 Internal Server Error\r\n/);
    expect(ex.raw.toString('latin1')).to.not.contain('Content-Length: 2.5');
    const logged = srv.logger.records.find((r) => r.message === 'Exception while serving /badtell_nocl');
    expect(String(logged?.args[1])).to.contain('tell() must return a non-negative integer, got 2.5');
    const next = await send(srv.port, get('/filelike'), { responses: 1 });
    expect(sha(next.responses[0]!.body)).to.equal(sha(content));
  });

  it('/notfilelike_longcl: too few bytes for the declared length closes the connection', async () => {
    const ex = await send(srv.port, get('/notfilelike_longcl') + get('/'));
    expect(ex.raw.toString('latin1')).to.contain(`Content-Length: ${content.length + 10}\r\n`);
    expect(ex.closed).to.equal(true);
  });

  it('/reusing: a file-like that reads into one buffer every time is sent as the file, seekable or not', async () => {
    const ex = await send(srv.port, get('/reusing') + get('/reusing_readonly') + get('/reusing_readonly', '', '1.0'), { responses: 3 });
    for (const res of ex.responses) expect(sha(res.body)).to.equal(sha(content));
    expect(ex.responses[1]!.headers['content-length']).to.equal(String(content.length));
  });

  it('/nullread: a read() that returns null is an error, not the end of the file', async () => {
    // Not seekable: the first read() gives null, before any head: a 500.
    const first = await send(srv.port, get('/nullread_readonly_nocl'));
    expect(first.responses[0]!.status).to.equal(500);
    // Seekable: the head (with the file's length) is out when the second read() gives null: cut short and closed.
    const second = await send(srv.port, get('/nullread_nocl') + get('/filelike'));
    expect(second.raw.toString('latin1')).to.match(new RegExp(`^HTTP/1\\.1 200 OK\r\n[^]*Content-Length: ${content.length}\r\n`));
    expect(second.raw.length).to.be.below(content.length);
    expect(second.closed).to.equal(true);
    const logged = srv.logger.records.filter((r) => /^Exception while serving \/nullread/.test(r.message)).map((r) => String(r.args[1]));
    expect(logged).to.have.length(2);
    for (const message of logged) expect(message).to.contain("a wrapped file's read() must return a Uint8Array (empty at the end of the file), got null");
  });

  it('/stream: a stream.Readable is refused (and destroyed) with a message saying to return it instead; the server keeps serving', async () => {
    const descriptors = () => fs.readdirSync('/proc/self/fd').length;
    const before = descriptors();
    const ex = await send(srv.port, get('/stream'));
    expect(ex.responses[0]!.status).to.equal(500);
    // The stream opened the file: refused, it must not keep the descriptor.
    for (let i = 0; i < 50 && descriptors() > before; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(descriptors()).to.equal(before);
    const next = await send(srv.port, get('/filelike'), { responses: 1 });
    expect(sha(next.responses[0]!.body)).to.equal(sha(content));
    const logged = srv.logger.records.find((r) => r.message === 'Exception while serving /stream');
    expect(String(logged?.args[1])).to.contain('not a stream.Readable: return the stream itself');
  });

  it('HEAD sends the size but no bytes', async () => {
    const ex = await send(srv.port, `HEAD /filelike HTTP/1.1\r\nHost: x\r\n\r\n` + get('/filelike_shortcl'), { responses: 2, methods: ['HEAD', 'GET'] });
    expect(ex.responses[0]!.headers['content-length']).to.equal(String(content.length));
    expect(ex.responses[1]!.body.length).to.equal(1);
  });
});
