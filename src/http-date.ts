// The Date header (RFC 9110 section 6.6.1, IMF-fixdate), formatted at most once a
// second: every response needs it, and both Date.toUTCString() and reading the
// clock cost more than a response's other work. The value is kept until a timer
// clears it at the next second boundary (as node:http does), so a response reads
// no clock at all.

let cachedValue: string | null = null;

function expire(): void {
  cachedValue = null;
}

/** The current time as an IMF-fixdate, e.g. `Tue, 24 Nov 2026 07:42:56 GMT`. */
export function httpDate(): string {
  if (cachedValue === null) {
    const now = Date.now();
    // toUTCString() already yields IMF-fixdate with a two-digit day.
    cachedValue = new Date(now).toUTCString();
    // unref: a pending Date refresh never keeps the process alive.
    setTimeout(expire, 1000 - (now % 1000)).unref();
  }
  return cachedValue;
}
