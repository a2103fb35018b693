// The hop-by-hop stage: headers meant for the connection to garcon (or to the
// proxy in front of it) are not part of the request the app should see
// (RFC 9110 section 7.6.1). The fixed ones (Connection, Keep-Alive, TE,
// Transfer-Encoding, Upgrade, ...; HOP_BY_HOP_KEYS) never reach the environ:
// the parser keeps them apart (ParsedRequest.hopFields) and the engine acts on
// them (keep-alive, framing). What is left for this stage are the end-to-end
// looking fields that the Connection header names as hop-by-hop.

import { trimOws } from './header-names.js';
import type { Environ } from './types.js';

/**
 * Header keys a Connection option may never remove. Host is the request's
 * target authority (RFC 9112 section 3.2), not a connection option. Content-Length
 * and Content-Type live under CONTENT_LENGTH / CONTENT_TYPE, which an option
 * name maps to HTTP_CONTENT_* and therefore never reaches.
 */
const PROTECTED_KEYS: ReadonlySet<string> = new Set(['HTTP_HOST']);

const COMMA = 0x2c;

/** Remove the header named by one Connection option (the field value's chars start..end). */
function removeConnectionOption(environ: Environ, connection: string, start: number, end: number): void {
  const option = trimOws(connection.slice(start, end));
  if (option === '') return;
  // The engine drops header names containing '_' so that `X_Y` cannot pose as `X-Y`;
  // an option spelled with '_' names no header the app can see.
  if (option.includes('_')) return;
  const key = `HTTP_${option.toUpperCase().replaceAll('-', '_')}`;
  if (!PROTECTED_KEYS.has(key) && environ[key] !== undefined) delete environ[key];
}

/** Remove from the environ every header the Connection field value `connection` lists. */
export function removeConnectionOptions(environ: Environ, connection: string): void {
  // Connection = #connection-option (RFC 9110 section 7.6.1): a comma list of field names.
  let start = 0;
  for (let i = 0; i <= connection.length; i++) {
    if (i === connection.length || connection.charCodeAt(i) === COMMA) {
      removeConnectionOption(environ, connection, start, i);
      start = i + 1;
    }
  }
}
