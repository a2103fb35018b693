// Caches that outlive a request keep none of its head. A string sliced from a
// head (13 chars or more) is a view that keeps the whole head alive, so a cache
// keyed by such slices could hold up to 1,024 heads of maxRequestHeaderSize.

import { expect } from 'chai';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { makeAdjustments } from '../src/adjustments.js';
import { BodyBuffer } from '../src/buffers.js';
import { removeConnectionOptions } from '../src/hop-by-hop.js';
import { RequestParser } from '../src/parser.js';
import { compileTrust } from '../src/trust.js';
import type { Environ } from '../src/types.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const HEADS = 100;
const FILLER = `X-Filler: ${'a'.repeat(128 * 1024)}\r\n`;
const MiB = 1024 * 1024;

/** Heap growth that outlives `work` (HEADS heads of 128 KiB: 12.5 MiB if each were kept). */
function retainedBy(work: (i: number, head: string) => void): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < HEADS; i++) work(i, `${String(i).padStart(8, '0')}\r\n${FILLER}`);
  gc();
  return process.memoryUsage().heapUsed - before;
}

/** A slice of a fresh, large string, as the parser hands values to the pipeline. */
function sliceOfHead(value: string, head: string): string {
  const text = `${value}|${head}`;
  return text.slice(0, value.length);
}

describe('caches keep no request head alive', () => {
  const limits = makeAdjustments({});

  it('the field-name cache', () => {
    const retained = retainedBy((i, filler) => {
      const head = Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nX-Unique-Name-${i}-abcdef: v\r\nX-Pad: ${filler}\r\n`, 'latin1');
      const parser = new RequestParser(limits);
      for (let at = 0; at < head.length; at += 65536) parser.received(head.subarray(at, at + 65536));
      expect(parser.completed).to.equal(true);
      expect(parser.request.error).to.equal(null);
    });
    expect(retained).to.be.below(3 * MiB);
  });

  it('the Connection value cache of hop-by-hop stripping', () => {
    const retained = retainedBy((i, head) => {
      const environ = { HTTP_X_A: 'a' } as unknown as Environ;
      removeConnectionOptions(environ, sliceOfHead(`x-a, x-option-number-${i}`, head));
      expect(environ).to.not.have.property('HTTP_X_A');
    });
    expect(retained).to.be.below(3 * MiB);
  });

  it('the keys cached for a Connection value (digits: upper-casing returns the slice itself)', () => {
    const retained = retainedBy((i, head) => {
      const environ = { HTTP_X_A: 'a' } as unknown as Environ;
      removeConnectionOptions(environ, sliceOfHead(`x-a, ${String(i).padStart(16, '7')}`, head));
      expect(environ).to.not.have.property('HTTP_X_A');
    });
    expect(retained).to.be.below(3 * MiB);
  });

  it('the last valid Host', () => {
    // One head only, so a large one: 900 KiB (larger strings are kept outside the V8 heap).
    const big = makeAdjustments({ maxRequestHeaderSize: 1 * MiB });
    const parseOnce = () => {
      const head = Buffer.from(`GET / HTTP/1.1\r\nHost: one-host-kept.example\r\nX-Pad: ${'a'.repeat(900 * 1024)}\r\n\r\n`, 'latin1');
      const parser = new RequestParser(big);
      for (let at = 0; at < head.length; at += 65536) parser.received(head.subarray(at, at + 65536));
      expect(parser.request.error).to.equal(null);
    };
    gc();
    const before = process.memoryUsage().heapUsed;
    parseOnce();
    gc();
    expect(process.memoryUsage().heapUsed - before).to.be.below(400 * 1024);
  });

  it('the trustedProxy memo', () => {
    const trust = compileTrust('10.0.0.0/8');
    const retained = retainedBy((i, head) => {
      expect(trust(sliceOfHead(`2001:db8::${i.toString(16)}:1234`, head))).to.equal(false);
    });
    expect(retained).to.be.below(3 * MiB);
  });

  it('a request body of 1-byte chunks: about its size, not a Buffer per byte nor the reads they came in', () => {
    gc();
    const before = process.memoryUsage();
    const body = new BodyBuffer(1 << 30);
    // 500 reads of a chunked body '1\r\nX\r\n' x 1,000: the decoder hands over a 1-byte slice of each chunk.
    for (let r = 0; r < 500; r++) {
      const read = Buffer.from('1\r\nX\r\n'.repeat(1000), 'latin1');
      for (let c = 0; c < 1000; c++) body.append(read.subarray(c * 6 + 3, c * 6 + 4));
    }
    gc();
    const after = process.memoryUsage();
    const retained = after.heapUsed - before.heapUsed + after.arrayBuffers - before.arrayBuffers;
    // Kept as slices: 500,000 Buffer objects and every read (over 40 MiB). Gathered: 500 KB of blocks.
    expect(retained).to.be.below(4 * MiB);
    expect(body.input().read().toString('latin1')).to.equal('X'.repeat(500_000));
    body.close();
  });
});

describe('a head that arrives a byte per read', () => {
  it('is held in one buffer, not a Buffer per read (some 200 bytes of memory each)', () => {
    const parser = new RequestParser(makeAdjustments({}));
    parser.received(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ', 'latin1'));
    gc();
    const usage = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const before = usage();
    // 100,000 reads of one byte each, as a socket with TCP_NODELAY on both ends can deliver them.
    for (let i = 0; i < 100_000; i++) parser.received(Buffer.from([0x61]));
    gc();
    const held = usage() - before;
    expect(parser.completed).to.equal(false);
    expect(held).to.be.below(1 * MiB); // a Buffer per read: about 20 MB
    parser.received(Buffer.from('\r\n\r\n', 'latin1'));
    expect(parser.completed).to.equal(true);
    expect(parser.request.headers.HTTP_X_SLOW).to.have.length(100_000);
  });
});
