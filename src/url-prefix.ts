// The url_prefix stage: the app is mounted under `urlPrefix`, so SCRIPT_NAME is
// the prefix and PATH_INFO what follows it (PEP 3333). Matching is by whole
// path segments on the decoded path, as Waitress does: `/foo` owns `/foo` and
// `/foo/...`, never `/foobar`.

import { InvalidOptionError } from './errors.js';
import type { Adjuster } from './pipeline.js';
import { percentDecodePath } from './request-target.js';
import type { Environ } from './types.js';

const SLASH = 0x2f;

/**
 * A prefix as written ('/café', '/my%20app') in the form PATH_INFO has: percent-decoded
 * bytes, one char each (latin-1). Matched against PATH_INFO in that form, '/my%20app'
 * owns '/my%20app/x' and '/café' a browser's '/caf%C3%A9/x', and SCRIPT_NAME is in the
 * same encoding as PATH_INFO.
 */
export function pathForm(prefix: string): string {
  return percentDecodePath(Buffer.from(prefix, 'utf8').toString('latin1'));
}

/**
 * Build the stage for a normalised prefix ('' or '/a/b', no trailing slash), or
 * null for '' (the engine already sets SCRIPT_NAME to '').
 */
export function createUrlPrefixAdjuster(urlPrefix: string): Adjuster | null {
  if (urlPrefix === '') return null;
  if (urlPrefix.charCodeAt(0) !== SLASH || urlPrefix.charCodeAt(urlPrefix.length - 1) === SLASH) {
    throw new InvalidOptionError('urlPrefix', `urlPrefix must be '' or start with '/' and not end with it, got '${urlPrefix}'`);
  }
  return (environ: Environ) => {
    // SCRIPT_NAME is the prefix even when the path lies outside it (Waitress keeps it so).
    environ.SCRIPT_NAME = urlPrefix;
    const path = environ.PATH_INFO;
    if (!path.startsWith(urlPrefix)) return;
    if (path.length === urlPrefix.length) environ.PATH_INFO = '';
    else if (path.charCodeAt(urlPrefix.length) === SLASH) environ.PATH_INFO = path.slice(urlPrefix.length);
  };
}
