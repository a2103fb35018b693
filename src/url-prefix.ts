// The url_prefix stage: the app is mounted under `urlPrefix`, so SCRIPT_NAME is
// the prefix and PATH_INFO what follows it (PEP 3333). Matching is by whole
// path segments on the decoded path, as Waitress does: `/foo` owns `/foo` and
// `/foo/...`, never `/foobar`.

import { InvalidOptionError } from './errors.js';
import type { Adjuster } from './pipeline.js';
import type { Environ } from './types.js';

const SLASH = 0x2f;

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
