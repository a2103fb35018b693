// The clock of the channels' timestamps (idle, slowloris and slow-body timeouts,
// which count in seconds). Every read of a socket needs the time, and reading
// performance.now() there cost about 120 ns per keep-alive request (measured in
// process), a tenth of garcon's own work for it; so the value is kept until a
// timer clears it CLOCK_RESOLUTION_MS later: a busy server reads the clock 20 times a
// second, not once per request.

/** How stale a reading may be (more only while the event loop is blocked, when no timeout is judged either). */
export const CLOCK_RESOLUTION_MS = 50;

let cached = 0;

function expire(): void {
  cached = 0;
}

/**
 * Whole milliseconds on a monotonic clock, counted from the process's start (plus
 * one: never 0, which the channel's timestamps use for "not started"). Small
 * integers stay unboxed in a channel's fields for the first 24 days of the process
 * (a Date.now() value, past 2^31, is a 16-byte heap number per field per
 * connection), and a wall-clock step cannot time out every connection at once.
 */
export function monotonicMs(): number {
  if (cached === 0) {
    cached = Math.floor(performance.now()) + 1;
    // unref: a pending refresh never keeps the process alive.
    setTimeout(expire, CLOCK_RESOLUTION_MS).unref();
  }
  return cached;
}
