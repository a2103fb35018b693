// The Date header (RFC 9110 section 6.6.1, IMF-fixdate), formatted at most once a
// second: every response needs it and Date.toUTCString() is not free.

let cachedSecond = -1;
let cachedValue = '';

/** The current time as an IMF-fixdate, e.g. `Tue, 24 Nov 2026 07:42:56 GMT`. */
export function httpDate(now: number = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    // toUTCString() already yields IMF-fixdate with a two-digit day.
    cachedValue = new Date(second * 1000).toUTCString();
  }
  return cachedValue;
}
