import { expect } from 'chai';
import { BodyBuffer } from '../src/buffers.js';
import { ChunkedDecoder, MAX_SIZE_LINE } from '../src/chunked.js';

interface Outcome {
  consumed: number;
  done: boolean;
  body: string;
  status: number | null;
  detail: string | null;
}

const BIG = 1 << 30;

/** Feed `pieces` in order, stopping as soon as the decoder stops consuming. */
function decode(pieces: Array<string | Buffer>, maxBodySize = BIG): Outcome {
  const body = new BodyBuffer(BIG);
  const decoder = new ChunkedDecoder(body, maxBodySize);
  let consumed = 0;
  for (const piece of pieces) {
    const data = typeof piece === 'string' ? Buffer.from(piece, 'latin1') : piece;
    const n = decoder.received(data);
    consumed += n;
    if (n < data.length) break;
  }
  const result = {
    consumed,
    done: decoder.done,
    body: body.input().read().toString('latin1'),
    status: decoder.error?.status ?? null,
    detail: decoder.error?.detail ?? null,
  };
  body.close();
  return result;
}

function bytewise(text: string): string[] {
  return [...text];
}

describe('ChunkedDecoder', () => {
  it('decodes a body and stops at its end', () => {
    const input = '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET / HTTP/1.1\r\n';
    const outcome = decode([input]);
    expect(outcome).to.deep.include({ done: true, body: 'hello world', status: null });
    expect(outcome.consumed).to.equal(input.indexOf('GET'));
  });

  it('gives the same result split at every byte', () => {
    const input = '5;a=b;c\r\nhello\r\nA;x="q\\"s; t"\r\n0123456789\r\n000\r\nTrailer: v\r\nX-A:\r\n\r\n';
    const whole = decode([input]);
    expect(whole).to.deep.include({ done: true, body: 'hello0123456789', consumed: input.length });
    expect(decode(bytewise(input))).to.deep.equal(whole);
    for (let cut = 1; cut < input.length; cut++) {
      expect(decode([input.slice(0, cut), input.slice(cut)]), `cut at ${cut}`).to.deep.equal(whole);
    }
  });

  it('accepts leading zeros and upper-case hex digits', () => {
    expect(decode(['00000000000000000005\r\nhello\r\n0\r\n\r\n'])).to.deep.include({ done: true, body: 'hello' });
    expect(decode(['B\r\nhello world\r\n0\r\n\r\n'])).to.deep.include({ done: true, body: 'hello world' });
  });

  it('waits for the end of the trailer section', () => {
    expect(decode(['5\r\nhello\r\n0\r\n'])).to.deep.include({ done: false, status: null, consumed: 13 });
    expect(decode(['0\r\nA: b\r\n'])).to.deep.include({ done: false, status: null });
  });

  it('consumes nothing once done', () => {
    const decoder = new ChunkedDecoder(new BodyBuffer(BIG), BIG);
    expect(decoder.received(Buffer.from('0\r\n\r\n'))).to.equal(5);
    expect(decoder.received(Buffer.from('more'))).to.equal(0);
  });

  const invalidSizes: Array<[string, string]> = [
    ['0x5\r\nhello\r\n0\r\n\r\n', 'hex prefix'],
    ['+5\r\nhello\r\n0\r\n\r\n', 'sign'],
    [' 5\r\nhello\r\n0\r\n\r\n', 'leading space'],
    ['5 \r\nhello\r\n0\r\n\r\n', 'trailing space'],
    ['5 ;a=b\r\nhello\r\n0\r\n\r\n', 'space before extension'],
    ['x04\r\nhell\r\n0\r\n\r\n', 'non-hex'],
    ['\r\n5\r\nhello\r\n0\r\n\r\n', 'empty size line'],
    ['5\nhello\r\n0\r\n\r\n', 'bare LF ending the size line'],
    ['5\n\r\nhello\r\n0\r\n\r\n', 'LF before CRLF'],
    ['5\rhello\r\n0\r\n\r\n', 'bare CR in the size line'],
    [';a\r\n', 'extension without size'],
    [`${'0'.repeat(MAX_SIZE_LINE + 1)}5\r\nhello\r\n0\r\n\r\n`, 'size line over the cap'],
  ];
  for (const [input, why] of invalidSizes) {
    it(`refuses a chunk size with ${why}`, () => {
      expect(decode([input])).to.deep.include({ status: 400, detail: 'Invalid chunk size' });
    });
  }

  it('accepts a size line right at the cap', () => {
    const line = `${'0'.repeat(MAX_SIZE_LINE - 1)}5`;
    expect(decode([`${line}\r\nhello\r\n0\r\n\r\n`])).to.deep.include({ done: true, body: 'hello' });
  });

  const invalidExtensions = ['5;a=', '5; a=b', '5;a =b', '5;a= b', '5;', '5;;a', '5;a=b;', '5;a="b"c', '5;a="b', '5;a="\x00"', '5;a\nx', '5;a\rx', '5;a=b\n', '5;=b'];
  for (const line of invalidExtensions) {
    it(`refuses the chunk extension in ${JSON.stringify(line)}`, () => {
      expect(decode([`${line}\r\nhello\r\n0\r\n\r\n`])).to.deep.include({ status: 400, detail: 'Invalid chunk extension' });
    });
  }

  for (const input of ['5\r\nhello\n0\r\n\r\n', '5\r\nhelloXX0\r\n\r\n', '5\r\nhello\rX0\r\n\r\n']) {
    it(`refuses chunk data without CRLF after it: ${JSON.stringify(input)}`, () => {
      expect(decode([input])).to.deep.include({ status: 400, detail: 'Chunk not properly terminated' });
    });
  }

  describe('trailer section', () => {
    it('is validated but not exposed', () => {
      expect(decode(['3\r\nabc\r\n0\r\nA: 1\r\nB:\t2 \r\n\r\n'])).to.deep.include({ done: true, body: 'abc' });
    });

    for (const [trailer, detail] of [
      ['A: 1\nB: 2\r\n\r\n', 'Bare CR or LF found in HTTP message'],
      ['A: 1\rB\r\n\r\n', 'Bare CR or LF found in HTTP message'],
      ['\n', 'Bare CR or LF found in HTTP message'],
      ['\rX', 'Bare CR or LF found in HTTP message'],
      ['A\n', 'Bare CR or LF found in HTTP message'],
      ['A: a\x00b\r\n\r\n', 'Invalid header'],
      ['A: a\x7fb\r\n\r\n', 'Invalid header'],
      ['A : b\r\n\r\n', 'Invalid header'],
      ['A\r\n\r\n', 'Invalid header'],
      [': b\r\n\r\n', 'Invalid header'],
      [' folded\r\n\r\n', 'Invalid header'],
    ]) {
      it(`refuses the trailer ${JSON.stringify(trailer)}`, () => {
        expect(decode([`0\r\n${trailer}`])).to.deep.include({ status: 400, detail });
      });
    }
  });

  describe('body limit (raw bytes, framing included)', () => {
    it('refuses a body whose framing reaches the limit', () => {
      // 3 data bytes, 13 bytes on the wire.
      expect(decode(['3\r\nabc\r\n0\r\n\r\n'], 10)).to.deep.include({ status: 413, detail: 'exceeds max_body of 10' });
    });

    it('accepts a body whose framing stays under the limit', () => {
      expect(decode(['3\r\nabc\r\n0\r\n\r\n'], 14)).to.deep.include({ done: true, body: 'abc' });
    });

    it('refuses a chunk that cannot fit before receiving its data', () => {
      const outcome = decode(['64\r\n'], 100);
      expect(outcome).to.deep.include({ status: 413, body: '' });
    });

    it('refuses a size too large for a double without losing precision', () => {
      expect(decode(['fffffffffffffffffffffff\r\n'])).to.deep.include({ status: 413 });
      expect(decode(['10000000000000\r\n'])).to.deep.include({ status: 413 });
    });

    it('lets 413 win over a framing error in the same read', () => {
      expect(decode([`5\r\nhelloXX${'z'.repeat(20)}`], 20)).to.deep.include({ status: 413 });
      expect(decode([`5\r\nhelloXX${'z'.repeat(20)}`], 100)).to.deep.include({ status: 400 });
    });

    it('counts trailer bytes toward the limit', () => {
      expect(decode(['0\r\n', `A: ${'x'.repeat(50)}`], 40)).to.deep.include({ status: 413 });
    });

    it('consumes the rest of the read after an error', () => {
      expect(decode(['zz\r\nmore bytes'])).to.deep.include({ consumed: 14, status: 400 });
    });
  });
});
