// What both benchmark servers answer, so garcon and node:http are measured on
// the same app semantics: the same paths, bodies and response headers.

/** The 13-byte body of issue 5's "hello" scenarios. */
export const HELLO = Buffer.from('Hello, World!', 'latin1');
/** The body of the large-response scenario. */
export const MIB_BODY = Buffer.alloc(1024 * 1024, 'x');

export const ROUTES = {
  /** GET: HELLO, text/plain, Content-Length. */
  hello: '/',
  /** GET: MIB_BODY, application/octet-stream, Content-Length. */
  mib: '/1mib',
  /** POST: the request body echoed back with its Content-Length. */
  echo: '/echo',
  /** GET: the file named by BENCH_FILE, streamed with its Content-Length. */
  file: '/file',
} as const;

/** Environment variable naming the file served at ROUTES.file. */
export const FILE_ENV = 'BENCH_FILE';

/** The first stdout line of a server script: where it listens. */
export interface ServerAnnouncement {
  port: number;
}

/**
 * Tell the parent where we listen, and exit cleanly on SIGTERM so that
 * `--cpu-prof` gets to write its profile (it does on process.exit, not on a kill).
 */
export function announce(port: number): void {
  const line: ServerAnnouncement = { port };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  process.once('SIGTERM', () => process.exit(0));
}
