// Header field grammar shared by the head parser and the chunked trailer
// decoder (RFC 9110 section 5.1 and 5.5): byte classes for tokens and field
// values, and the mapping from a field name to its environ key.

/** Bytes allowed in a token (RFC 9110 section 5.6.2), as a 256-entry lookup table. */
export const TCHAR: Uint8Array = (() => {
  const table = new Uint8Array(256);
  const symbols = "!#$%&'*+-.^_`|~";
  for (let b = 0x30; b <= 0x39; b++) table[b] = 1;
  for (let b = 0x41; b <= 0x5a; b++) table[b] = 1;
  for (let b = 0x61; b <= 0x7a; b++) table[b] = 1;
  for (let i = 0; i < symbols.length; i++) table[symbols.charCodeAt(i)] = 1;
  return table;
})();

export const SP = 0x20;
export const HTAB = 0x09;

/** SP or HTAB: optional whitespace (RFC 9110 section 5.6.3). */
export function isOws(byte: number): boolean {
  return byte === SP || byte === HTAB;
}

/**
 * qdtext (RFC 9110 section 5.6.4): HTAB, SP, VCHAR except `"` and `\`, obs-text.
 * Takes a byte or a latin-1 char code (anything above 0xFF is refused).
 */
export function isQdtext(code: number): boolean {
  return code === HTAB || code === SP || code === 0x21 || (code >= 0x23 && code <= 0xff && code !== 0x5c && code !== 0x7f);
}

/** The byte after the backslash of a quoted-pair (RFC 9110 section 5.6.4): HTAB, SP, VCHAR, obs-text. */
export function isQuotedPairChar(code: number): boolean {
  return code === HTAB || (code >= 0x20 && code <= 0xff && code !== 0x7f);
}

/**
 * `text` without leading and trailing SP/HTAB, and nothing else: a wider strip
 * (NEL, NBSP, VT) once enabled request smuggling (Waitress spec 10, #14).
 */
export function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** How many elements a comma-separated list has at most (its commas plus one), counted without splitting it. */
export function listLength(value: string): number {
  let commas = 0;
  for (let at = value.indexOf(','); at !== -1; at = value.indexOf(',', at + 1)) commas++;
  return commas + 1;
}

/** Comma-separated list elements, trimmed of SP/HTAB and lower-cased (RFC 9110 section 5.6.1). */
export function listElements(value: string): string[] {
  const elements: string[] = [];
  for (const raw of value.split(',')) {
    // Empty elements are dropped before trimming, as Waitress does, so a lone
    // " " (e.g. from joining `chunked` with an empty second field) is an
    // unsupported empty coding. toLowerCase on a latin-1 string never turns a
    // non-ASCII char into an ASCII letter, so no look-alike folds into `chunked`.
    if (raw !== '') elements.push(trimOws(raw).toLowerCase());
  }
  return elements;
}

/** A non-empty string of tchars (a header name, a method). */
export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff || TCHAR[code] !== 1) return false;
  }
  return true;
}

/**
 * A byte that may appear in a field value: VCHAR, obs-text, SP and HTAB
 * (RFC 9110 section 5.5). Every other control byte (NUL, CR, LF, VT, DEL...) is refused.
 */
export function isFieldValueByte(byte: number): boolean {
  return byte >= 0x20 ? byte !== 0x7f : byte === HTAB;
}

/**
 * `text` (latin-1, as everything taken from a head is) as a string of its own,
 * for keeping past the request (a cache key). A slice of 13 chars or more is a
 * view that keeps the whole head string alive, up to maxRequestHeaderSize: a
 * cache of 1,024 of them could keep 256 MiB.
 */
export function ownCopy(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

/** Hop-by-hop fields (RFC 9110 section 7.6.1, RFC 9112): the app may not send them (PEP 3333), nor see them. */
export const HOP_BY_HOP_NAMES = [
  'Connection', 'Keep-Alive', 'Proxy-Authenticate', 'Proxy-Authorization', 'TE', 'Trailer', 'Transfer-Encoding', 'Upgrade',
] as const;

/** The proxy headers garcon knows (Waitress's list): trustedProxyHeaders may name them, the trusted-proxy stage reads them. */
export const PROXY_FIELD_NAMES = [
  'X-Forwarded-For', 'X-Forwarded-Host', 'X-Forwarded-Proto', 'X-Forwarded-Port', 'X-Forwarded-By', 'Forwarded',
] as const;
export type ProxyFieldName = (typeof PROXY_FIELD_NAMES)[number];

/** The environ key of a field name the server knows (never one with '_'). */
export function knownEnvironKey(name: string): string {
  const key = computeEnvironKey(name);
  if (key === null) throw new Error(`${name} has no environ key`);
  return key;
}

export const HOP_BY_HOP_KEYS: readonly string[] = HOP_BY_HOP_NAMES.map(knownEnvironKey);
export const PROXY_KEYS: readonly string[] = PROXY_FIELD_NAMES.map(knownEnvironKey);

/**
 * What a field means to the engine beyond its key, recorded by the parser
 * (ParsedRequest.fieldFlags): hop-by-hop fields are kept out of the environ
 * (ParsedRequest.hopFields), and a request without proxy headers skips the
 * trusted-proxy stage instead of probing the environ for six absent keys.
 */
export const enum FieldFlag {
  None = 0,
  HopByHop = 1,
  Proxy = 2,
}

/**
 * The last use of one environ key: the parser marks it with the number of the
 * head it is parsing, and so finds a repeated field without probing the headers
 * object for a key it mostly does not have (a megamorphic miss, which also walks
 * the prototype chain). Shared by the cached names with that key (`Accept`, `accept`).
 */
export interface KeyUse {
  head: number;
}
const keyUses = new Map<string, KeyUse>();

/** A field name as the server knows it: as sent, its environ key (null: dropped) and its FieldFlag bits. */
export interface FieldName {
  readonly name: string;
  readonly key: string | null;
  readonly flags: FieldFlag;
  /** Its key's KeyUse; null for a name not cached, whose repeats are found in the headers. */
  readonly use: KeyUse | null;
}

/** A FieldName kept in the cache, with its bytes: comparing bytes to bytes is cheaper than to a string sliced from an old head. */
interface CachedFieldName extends FieldName {
  readonly bytes: Uint8Array;
}

function computeEnvironKey(name: string): string | null {
  // Names with '_' are dropped so that `X_Foo` can never pose as `X-Foo`
  // (both map to HTTP_X_FOO) — Waitress's anti-spoofing rule.
  if (name.includes('_')) return null;
  const upper = name.toUpperCase().replaceAll('-', '_');
  if (upper === 'CONTENT_TYPE' || upper === 'CONTENT_LENGTH') return upper;
  return `HTTP_${upper}`;
}

/** What `name` (tchars, so upper-casing is ASCII-only) maps to; `cached`: it will be kept in the cache. */
function fieldName(name: string, cached: boolean): FieldName {
  const key = computeEnvironKey(name);
  let flags = FieldFlag.None;
  if (key !== null && HOP_BY_HOP_KEYS.includes(key)) flags |= FieldFlag.HopByHop;
  if (key !== null && PROXY_KEYS.includes(key)) flags |= FieldFlag.Proxy;
  let use: KeyUse | null = null;
  if (cached && key !== null) {
    // As many KeyUses as cached names at most.
    use = keyUses.get(key) ?? { head: 0 };
    keyUses.set(key, use);
  }
  return { name, key, flags, use };
}

// Names seen before, found by their bytes: the parser hashes a name while it
// checks its bytes, so a known name costs no string, no string hashing and no
// Map probe. Open addressing, a few probes at most. Names are cached as sent, so
// an attacker could grow the cache with made-up names: past MAX_CACHED_NAMES new
// names are still mapped, just not remembered.
const NAME_SLOTS = 2048;
const MAX_CACHED_NAMES = 1024;
const MAX_PROBES = 8;
const nameSlots: (CachedFieldName | undefined)[] = new Array<CachedFieldName | undefined>(NAME_SLOTS).fill(undefined);
let cachedNames = 0;

/** One step of the hash fieldNameAt expects, fed every byte of the name in order from 0. */
export function nameHashStep(hash: number, byte: number): number {
  return (Math.imul(hash, 31) + byte) | 0;
}

/** `bytes` hold the latin-1 `text` at `at` (a char loop: cheaper than a conversion or startsWith for a few chars). */
export function bytesHold(bytes: Buffer, at: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (bytes[at + i] !== text.charCodeAt(i)) return false;
  }
  return true;
}

/** `bytes` hold `expected` at `at`. */
function sameBytes(bytes: Uint8Array, at: number, expected: Uint8Array): boolean {
  for (let i = 0; i < expected.length; i++) {
    if (bytes[at + i] !== expected[i]) return false;
  }
  return true;
}

/**
 * The field name in `bytes[start, end)` (tchars), whose nameHashStep hash is
 * `hash`; `text` holds the same bytes as latin-1 from `bytes[base]` on, for
 * making the string of a name not cached.
 */
export function fieldNameAt(bytes: Buffer, start: number, end: number, hash: number, text: string, base: number): FieldName {
  const length = end - start;
  let slot = hash & (NAME_SLOTS - 1);
  for (let probe = 0; probe < MAX_PROBES; probe++) {
    const known = nameSlots[slot];
    if (known === undefined) {
      if (cachedNames >= MAX_CACHED_NAMES) break;
      // A name kept for good is made from its bytes, not sliced from the head (ownCopy).
      const field = fieldName(bytes.toString('latin1', start, end), true);
      nameSlots[slot] = { ...field, bytes: Uint8Array.from(bytes.subarray(start, end)) };
      cachedNames++;
      return field;
    }
    if (known.bytes.length === length && sameBytes(bytes, start, known.bytes)) return known;
    slot = (slot + 1) & (NAME_SLOTS - 1);
  }
  return fieldName(text.slice(start - base, end - base), false);
}
