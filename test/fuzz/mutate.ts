// Mutations of a request's bytes, aimed at the places parsers disagree: framing
// bytes inserted anywhere, byte flips, header lines duplicated, case changes, and
// fragments of framing headers spliced in.

import type { Random } from './random.js';

/** CR, LF, SP, HTAB, NUL, ',' and ';': the bytes that change how a message is split. */
const FRAMING_BYTES = [0x0d, 0x0a, 0x20, 0x09, 0x00, 0x2c, 0x3b];
const FRAGMENTS = [
  '\r\n', '\r\n\r\n', '\n', '\r', ' ', '\t', '0\r\n\r\n', 'chunked', 'Transfer-Encoding: chunked\r\n',
  'Content-Length: 0\r\n', 'Content-Length: 5\r\n', ', chunked', ';a=b', '"', '\x0b', '\x85', '\xff', 'HTTP/1.1', '%00', '_',
].map((s) => Buffer.from(s, 'latin1'));

export interface Mutation {
  name: string;
  bytes: Buffer;
}

function insert(bytes: Buffer, at: number, extra: Buffer): Buffer {
  return Buffer.concat([bytes.subarray(0, at), extra, bytes.subarray(at)]);
}

/** Start offsets of the header field lines (after the request line, before the empty line). */
function fieldLineStarts(bytes: Buffer): number[] {
  const headEnd = bytes.indexOf('\r\n\r\n');
  const starts: number[] = [];
  for (let at = bytes.indexOf('\r\n'); at !== -1 && at < headEnd; at = bytes.indexOf('\r\n', at + 2)) starts.push(at + 2);
  return starts;
}

type Operator = (bytes: Buffer, random: Random) => Mutation;

const operators: Operator[] = [
  (bytes, random) => {
    const at = random.below(bytes.length + 1);
    const b = random.pick(FRAMING_BYTES);
    return { name: `insert 0x${b.toString(16)} at ${at}`, bytes: insert(bytes, at, Buffer.from([b])) };
  },
  (bytes, random) => {
    if (bytes.length === 0) return { name: 'noop', bytes };
    const at = random.below(bytes.length);
    const out = Buffer.from(bytes);
    out[at] = random.next() < 0.5 ? out[at]! ^ (1 << random.below(8)) : random.below(256);
    return { name: `flip byte ${at}`, bytes: out };
  },
  (bytes, random) => {
    if (bytes.length === 0) return { name: 'noop', bytes };
    const at = random.below(bytes.length);
    return { name: `delete byte ${at}`, bytes: Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]) };
  },
  (bytes, random) => {
    const starts = fieldLineStarts(bytes);
    if (starts.length < 2) return { name: 'noop', bytes };
    const i = random.below(starts.length - 1);
    const line = bytes.subarray(starts[i]!, starts[i + 1]!);
    return { name: `duplicate header line ${i}`, bytes: insert(bytes, starts[i + 1]!, line) };
  },
  (bytes, random) => {
    if (bytes.length === 0) return { name: 'noop', bytes };
    const start = random.below(bytes.length);
    const end = Math.min(bytes.length, start + 1 + random.below(12));
    const out = Buffer.from(bytes);
    for (let i = start; i < end; i++) {
      const b = out[i]!;
      if ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) out[i] = b ^ 0x20;
    }
    return { name: `toggle case ${start}-${end}`, bytes: out };
  },
  (bytes, random) => {
    const at = random.below(bytes.length + 1);
    const fragment = random.pick(FRAGMENTS);
    return { name: `splice ${JSON.stringify(fragment.toString('latin1'))} at ${at}`, bytes: insert(bytes, at, fragment) };
  },
];

/** One to three random mutations of `bytes`. */
export function mutate(bytes: Buffer, random: Random): Mutation {
  let current = bytes;
  const names: string[] = [];
  const rounds = 1 + random.below(3);
  for (let i = 0; i < rounds; i++) {
    const m = random.pick(operators)(current, random);
    current = m.bytes;
    names.push(m.name);
  }
  return { name: names.join('; '), bytes: current };
}
