import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as sinon from 'sinon';
import { BodyBuffer, emptyInput } from '../src/buffers.js';
import { AppContractError, InputClosedError } from '../src/errors.js';

function filled(text: string, overflow: number, pieces = 3): BodyBuffer {
  const body = new BodyBuffer(overflow);
  const step = Math.ceil(text.length / pieces);
  for (let i = 0; i < text.length; i += step) body.append(Buffer.from(text.slice(i, i + step), 'latin1'));
  return body;
}

describe('BodyBuffer and wsgi.input', () => {
  const text = 'first line\nsecond\n\nlast without newline';

  for (const [label, overflow] of [['in memory', 1 << 20], ['spilled to a temp file', 8]] as const) {
    describe(label, () => {
      let body: BodyBuffer;
      beforeEach(() => {
        body = filled(text, overflow);
      });
      afterEach(() => body.close());

      it('knows where it lives and how long it is', () => {
        expect(body.spilled).to.equal(overflow === 8);
        expect(body.length).to.equal(text.length);
      });

      it('read() with no size, undefined, null or -1 reads to the end', () => {
        for (const size of [undefined, null, -1]) {
          const input = body.input();
          expect(input.read(size).toString('latin1')).to.equal(text);
          expect(input.read().length).to.equal(0);
        }
      });

      it('read(n) reads at most n bytes and advances', () => {
        const input = body.input();
        expect(input.read(5).toString()).to.equal('first');
        expect(input.tell()).to.equal(5);
        expect(input.read(1000).toString()).to.equal(text.slice(5));
        expect(input.read(3).length).to.equal(0);
      });

      it('readline() stops after LF, honours a size, and returns empty at the end', () => {
        const input = body.input();
        expect(input.readline().toString()).to.equal('first line\n');
        expect(input.readline(3).toString()).to.equal('sec');
        expect(input.readline().toString()).to.equal('ond\n');
        expect(input.readline().toString()).to.equal('\n');
        expect(input.readline().toString()).to.equal('last without newline');
        expect(input.readline().length).to.equal(0);
      });

      it('readlines() and iteration yield every line; a hint stops early', () => {
        expect(body.input().readlines().map(String)).to.deep.equal(['first line\n', 'second\n', '\n', 'last without newline']);
        expect(body.input().readlines(5).map(String)).to.deep.equal(['first line\n']);
        expect([...body.input()].map(String)).to.have.length(4);
      });

      it('seek() from the start, the current position and the end', () => {
        const input = body.input();
        expect(input.seek(6)).to.equal(6);
        expect(input.read(4).toString()).to.equal('line');
        expect(input.seek(-4, 1)).to.equal(6);
        expect(input.seek(-7, 2)).to.equal(text.length - 7);
        expect(input.read().toString()).to.equal('newline');
        expect(() => input.seek(-1)).to.throw(RangeError);
        expect(() => input.seek(0, 7)).to.throw(RangeError);
      });

      it('close() makes further reads, seeks and tells throw', () => {
        const input = body.input();
        input.close();
        for (const use of [() => input.read(), () => input.readline(), () => input.readlines(), () => [...input], () => input.seek(0), () => input.tell()]) {
          expect(use).to.throw(InputClosedError);
        }
      });

      it('closing the body closes every reader handed out (a kept reader cannot read on)', () => {
        const kept = body.input();
        expect(kept.read(5).toString()).to.equal('first');
        body.close();
        expect(() => kept.seek(0)).to.throw(InputClosedError);
        expect(() => kept.read()).to.throw(InputClosedError);
      });

      it('a size that is not an integer is refused, and the position stays put', () => {
        const input = body.input();
        for (const size of [1.5, NaN, Infinity, '2', {}]) {
          expect(() => input.read(size as number)).to.throw(AppContractError, /integer size/);
          expect(() => input.readline(size as number)).to.throw(AppContractError, /integer size/);
          expect(() => input.readlines(size as number)).to.throw(AppContractError, /integer size/);
        }
        expect(input.tell()).to.equal(0);
        expect(input.read(5).toString()).to.equal('first');
      });
    });
  }

  it('spills exactly when the size reaches the threshold', () => {
    const body = new BodyBuffer(10);
    body.append(Buffer.alloc(9));
    expect(body.spilled).to.equal(false);
    body.append(Buffer.alloc(0));
    body.append(Buffer.alloc(1));
    expect(body.spilled).to.equal(true);
    body.close();
    body.close();
  });

  it('a spilled body leaves no file behind and releases its descriptor on close', () => {
    const before = fs.readdirSync('/proc/self/fd').length;
    const body = filled('x'.repeat(100), 10);
    expect(fs.readdirSync('/proc/self/fd').length).to.equal(before + 1);
    body.close();
    expect(fs.readdirSync('/proc/self/fd').length).to.equal(before);
  });

  it('a temp file that cannot be unlinked is closed: the refusal costs no descriptor', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'garcon-unlink-'));
    const savedTmpdir = process.env.TMPDIR;
    process.env.TMPDIR = dir; // os.tmpdir() reads it at each call
    // As in a directory with chattr +a: files can be made there, not removed. (The module
    // itself: an `import * as` binding of it cannot be stubbed.)
    const unlink = sinon.stub(require('node:fs') as typeof fs, 'unlinkSync').throws(Object.assign(new Error('EPERM: operation not permitted'), { code: 'EPERM' }));
    try {
      const before = fs.readdirSync('/proc/self/fd').length;
      expect(() => filled('x'.repeat(100), 10)).to.throw('EPERM');
      expect(unlink.called).to.equal(true);
      expect(fs.readdirSync('/proc/self/fd').length).to.equal(before);
    } finally {
      unlink.restore();
      if (savedTmpdir === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmpdir;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gathers small pieces into blocks: bytes in order, in memory and spilled, whatever the mix of sizes', () => {
    // Pieces of 1 byte (a body of 1-byte chunks), a few small and large ones, in one order.
    const sizes = [1, 1, 3, 1, 20000, ...Array(40000).fill(1), 700, 16384, 5, 70000, ...Array(3000).fill(7)];
    const expected = Buffer.concat(sizes.map((size, i) => Buffer.alloc(size, 0x41 + (i % 26))));
    for (const overflow of [1 << 30, 50000, 30]) {
      const body = new BodyBuffer(overflow);
      let offset = 0;
      sizes.forEach((size, i) => {
        // Each piece part of a larger read, as the parsers hand them over: a view, or a range of it.
        const read = Buffer.concat([Buffer.alloc(3), expected.subarray(offset, offset + size), Buffer.alloc(3)]);
        if (i % 2 === 0) body.append(read.subarray(3, 3 + size));
        else body.append(read, 3, 3 + size);
        offset += size;
      });
      expect(body.length).to.equal(expected.length);
      expect(body.spilled).to.equal(overflow < expected.length);
      expect(body.input().read().equals(expected), `overflow ${overflow}`).to.equal(true);
      body.close();
    }
  });

  it('a body kept as a view of a larger read is read from memory of its own, not the read\'s (the head is there)', () => {
    const read = Buffer.from('POST / HTTP/1.1\r\nCookie: secret\r\n\r\nbody', 'latin1');
    const body = new BodyBuffer(1 << 20);
    body.append(read.subarray(read.length - 4));
    const got = body.input().read();
    expect(got.toString()).to.equal('body');
    expect(got.buffer.byteLength).to.equal(4);
    // Joined from several pieces: not a slice of Buffer's shared pool either.
    const joined = filled('abcdef', 1 << 20, 3).input().read();
    expect(joined.buffer.byteLength).to.equal(6);
  });

  it('emptyInput() reads nothing', () => {
    const input = emptyInput();
    expect(input.read().length).to.equal(0);
    expect(input.readline().length).to.equal(0);
    expect(input.readlines()).to.deep.equal([]);
  });
});
