// The hop-by-hop stage: headers meant for the connection to garcon (or to the
// proxy in front of it) are not part of the request the app should see
// (RFC 9110 section 7.6.1). The fixed ones (Connection, Keep-Alive, TE,
// Transfer-Encoding, Upgrade, ...; HOP_BY_HOP_KEYS) never reach the environ:
// the parser keeps them apart (ParsedRequest.hopFields) and the engine acts on
// them (keep-alive, framing). What is left for this stage are the end-to-end
// looking fields that the Connection header names as hop-by-hop.

import { removeKeys } from './environ.js';
import { HOP_BY_HOP_KEYS, listElements, ownCopy } from './header-names.js';
import type { Environ } from './types.js';

/**
 * Header keys a Connection option may never remove. Host is the request's
 * target authority (RFC 9112 section 3.2), not a connection option. Content-Length
 * and Content-Type live under CONTENT_LENGTH / CONTENT_TYPE, which an option
 * name maps to HTTP_CONTENT_* and therefore never reaches.
 */
const PROTECTED_KEYS: ReadonlySet<string> = new Set(['HTTP_HOST']);

/** The environ key of the header one Connection option names, or null when it names none the app can see. */
function optionKey(option: string): string | null {
  if (option === '') return null;
  // The engine drops header names containing '_' so that `X_Y` cannot pose as `X-Y`;
  // an option spelled with '_' names no header the app can see.
  if (option.includes('_')) return null;
  const key = `HTTP_${option.toUpperCase().replaceAll('-', '_')}`;
  // Fixed hop-by-hop fields never reach the environ (the parser keeps them apart).
  return PROTECTED_KEYS.has(key) || HOP_BY_HOP_KEYS.includes(key) ? null : key;
}

/** The environ keys a Connection field value names, each once (RFC 9110 section 7.6.1: a comma list of field names). */
function namedKeys(connection: string): string[] {
  const keys = new Set<string>();
  for (const option of listElements(connection)) {
    const key = optionKey(option);
    if (key !== null) keys.add(key);
  }
  return [...keys];
}

/**
 * Keys per Connection value seen: the same few values (`close`, `keep-alive`,
 * `Upgrade`) come on nearly every request. Bounded in entries and in the
 * length of the values kept, so odd values cannot grow it (a 256 KiB value
 * names up to 128 K options).
 */
const keysByValue = new Map<string, readonly string[]>();
const KEYS_BY_VALUE_MAX = 256;
const CACHED_VALUE_MAX_LENGTH = 256;

/** Remove from the environ every header the Connection field value `connection` lists. */
export function removeConnectionOptions(environ: Environ, connection: string): void {
  let keys = keysByValue.get(connection);
  if (keys === undefined) {
    if (connection.length > CACHED_VALUE_MAX_LENGTH || keysByValue.size >= KEYS_BY_VALUE_MAX) {
      keys = namedKeys(connection);
    } else {
      // Keys made from a copy: strings built from a slice of the head can keep the head alive.
      const value = ownCopy(connection);
      keys = namedKeys(value);
      keysByValue.set(value, keys);
    }
  }
  // Usually none is there (Connection names hop-by-hop fields, kept out of the environ).
  if (keys.some((key) => environ[key] !== undefined)) removeKeys(environ, keys);
}
