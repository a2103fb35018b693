// The corpus file format (see test/corpus/README.md): a block of `# key: value`
// metadata lines, a blank line, then the request bytes written with explicit
// escapes. Literal newlines in the byte part are layout only and are dropped, so
// a file reads the same whatever line endings an editor or git gives it.

import * as fs from 'node:fs';
import * as path from 'node:path';

export interface CorpusLimits {
  maxRequestHeaderSize: number;
  maxRequestHeaderFields: number;
  maxRequestBodySize: number;
}

/** What the parser must make of one request in the file. */
export type ExpectedOutcome = 'ok' | 'incomplete' | number;

export interface CorpusCase {
  /** File name without `.http`. */
  name: string;
  file: string;
  bytes: Buffer;
  /** One entry per request in the file, in order. */
  expect: ExpectedOutcome[];
  /** Substring of the refusal's detail (last request). */
  detail: string | null;
  rule: string;
  /** Expected facts about the first request (`method`, `target`, `path`, `query`, `version`, `body`, `keep-alive`, `close`), escapes decoded. */
  first: Map<string, string>;
  /** Expected environ headers of the first request; null means "absent". */
  headers: Map<string, string | null>;
  limits: CorpusLimits;
}

export const DEFAULT_LIMITS: CorpusLimits = { maxRequestHeaderSize: 262144, maxRequestHeaderFields: 1000, maxRequestBodySize: 1073741824 };

const FIRST_REQUEST_KEYS = new Set(['method', 'target', 'path', 'query', 'version', 'body', 'keep-alive', 'close']);

/**
 * Decode the byte notation: `\r \n \t \\ \xHH` and `\*N{text}` (text, itself
 * escaped, repeated N times; write `}` inside it as `\x7d`). Newlines are dropped.
 */
export function decodeBytes(text: string): Buffer {
  const out: number[] = [];
  const parts: Buffer[] = [];
  const flush = () => {
    if (out.length > 0) parts.push(Buffer.from(out.splice(0)));
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n' || c === '\r') continue;
    if (c !== '\\') {
      const code = c.charCodeAt(0);
      if (code > 0x7e) throw new Error(`non-ASCII character at ${i}: write it as \\xHH`);
      out.push(code);
      continue;
    }
    const next = text[++i];
    if (next === 'r') out.push(0x0d);
    else if (next === 'n') out.push(0x0a);
    else if (next === 't') out.push(0x09);
    else if (next === '\\') out.push(0x5c);
    else if (next === 'x') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error(`bad \\x escape at ${i}`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (next === '*') {
      const open = text.indexOf('{', i);
      const close = text.indexOf('}', open);
      const count = Number(text.slice(i + 1, open));
      if (open === -1 || close === -1 || !Number.isInteger(count) || count < 1) throw new Error(`bad \\* repeat at ${i}`);
      flush();
      parts.push(Buffer.concat(Array<Buffer>(count).fill(decodeBytes(text.slice(open + 1, close)))));
      i = close;
    } else {
      throw new Error(`unknown escape \\${next ?? ''} at ${i}`);
    }
  }
  flush();
  return Buffer.concat(parts);
}

/** The inverse of decodeBytes for a human-readable file (CRLF pairs start a new layout line). */
export function encodeBytes(bytes: Buffer): string {
  let text = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x0d) text += '\\r';
    else if (b === 0x0a) text += bytes[i - 1] === 0x0d ? '\\n\n' : '\\n';
    else if (b === 0x09) text += '\\t';
    else if (b === 0x5c) text += '\\\\';
    else if (b < 0x20 || b > 0x7e) text += `\\x${b.toString(16).padStart(2, '0')}`;
    else text += String.fromCharCode(b);
  }
  return text;
}

function parseExpect(value: string, file: string): ExpectedOutcome[] {
  return value.split(/\s+/).filter(Boolean).map((token) => {
    if (token === 'ok' || token === 'incomplete') return token;
    const status = Number(token);
    if (!Number.isInteger(status) || status < 400 || status > 599) throw new Error(`${file}: bad expect token ${token}`);
    return status;
  });
}

function parseLimits(value: string): CorpusLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const pair of value.split(/\s+/).filter(Boolean)) {
    const [key, n] = pair.split('=');
    if (key === 'header') limits.maxRequestHeaderSize = Number(n);
    else if (key === 'fields') limits.maxRequestHeaderFields = Number(n);
    else if (key === 'body') limits.maxRequestBodySize = Number(n);
    else throw new Error(`unknown limit ${pair}`);
  }
  return limits;
}

export function parseCorpusFile(file: string, text: string): CorpusCase {
  const blank = text.search(/\r?\n\r?\n/);
  if (blank === -1) throw new Error(`${file}: no blank line after the metadata`);
  const meta = text.slice(0, blank).split(/\r?\n/);
  const result: CorpusCase = {
    name: path.basename(file, '.http'),
    file,
    bytes: decodeBytes(text.slice(blank).replace(/^\r?\n\r?\n/, '')),
    expect: [],
    detail: null,
    rule: '',
    first: new Map(),
    headers: new Map(),
    limits: { ...DEFAULT_LIMITS },
  };
  for (const line of meta) {
    const m = /^# ([a-z-]+): ?(.*)$/.exec(line);
    if (!m) throw new Error(`${file}: bad metadata line ${JSON.stringify(line)}`);
    const [, key, value] = m as unknown as [string, string, string];
    if (key === 'expect') result.expect = parseExpect(value, file);
    else if (key === 'detail') result.detail = value;
    else if (key === 'rule') result.rule = value;
    else if (key === 'note') continue;
    else if (key === 'limits') result.limits = parseLimits(value);
    else if (key === 'header') {
      const eq = value.indexOf('=');
      result.headers.set(value.slice(0, eq), decodeBytes(value.slice(eq + 1)).toString('latin1'));
    } else if (key === 'no-header') result.headers.set(value, null);
    else if (FIRST_REQUEST_KEYS.has(key)) result.first.set(key, decodeBytes(value).toString('latin1'));
    else throw new Error(`${file}: unknown metadata key ${key}`);
  }
  if (result.expect.length === 0) throw new Error(`${file}: no "# expect:" line`);
  if (result.rule === '') throw new Error(`${file}: no "# rule:" line`);
  return result;
}

/** Every `*.http` file directly in `dir`, sorted by name. */
export function loadCorpus(dir: string): CorpusCase[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.http'))
    .sort()
    .map((f) => parseCorpusFile(path.join(dir, f), fs.readFileSync(path.join(dir, f), 'latin1')));
}
