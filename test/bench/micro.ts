// `npm run bench:micro`: mitata micro-benchmarks of the per-request helpers on
// garcon's hot path, each fed a realistic input: head parsing, environ
// building and adjusting, response-head validation and serialisation, the
// Date header, and chunk framing in both directions. `--markdown` prints a
// Markdown table instead of mitata's default report.

import { makeAdjustments } from '../../src/adjustments.js';
import { BodyBuffer } from '../../src/buffers.js';
import { ChunkedDecoder } from '../../src/chunked.js';
import { buildEnviron, type ConnectionInfo, type EnvironSettings } from '../../src/environ.js';
import { httpDate } from '../../src/http-date.js';
import { RequestParser, type ParserLimits } from '../../src/parser.js';
import { buildPipeline, type Pipeline } from '../../src/pipeline.js';
import { serializeHead, validateAppHead } from '../../src/response-head.js';
import { Task, type TaskChannel, type TaskSettings } from '../../src/task.js';
import type { App, Logger } from '../../src/types.js';

/** What Chrome sends for a page load (cookies shortened), ~700 bytes. */
const BROWSER_HEAD = Buffer.from([
  'GET /articles/2024/garcon-benchmarks?ref=home&utm_source=feed HTTP/1.1',
  'Host: www.example.com',
  'Connection: keep-alive',
  'Cache-Control: max-age=0',
  'sec-ch-ua: "Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"',
  'sec-ch-ua-mobile: ?0',
  'sec-ch-ua-platform: "Linux"',
  'Upgrade-Insecure-Requests: 1',
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
  'Sec-Fetch-Site: same-origin',
  'Sec-Fetch-Mode: navigate',
  'Sec-Fetch-User: ?1',
  'Sec-Fetch-Dest: document',
  'Referer: https://www.example.com/',
  'Accept-Encoding: gzip, deflate, br, zstd',
  'Accept-Language: en-GB,en;q=0.9,fr;q=0.8',
  'Cookie: session=4f9a1c2e8b7d6a5f; theme=dark; _ga=GA1.2.1234567890.1700000000',
  '', '',
].join('\r\n'), 'latin1');

/** What wrk sends in the hello scenarios. */
const WRK_HEAD = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n', 'latin1');

const LIMITS: ParserLimits = { maxRequestHeaderSize: 262144, maxRequestHeaderFields: 1000, maxRequestBodySize: 1073741824, inbufOverflow: 524288 };
const CONNECTION: ConnectionInfo = { remoteAddr: '127.0.0.1', remotePort: '51234', serverPort: '8080', clientDisconnected: () => false };
const ENVIRON_SETTINGS: EnvironSettings = { serverName: 'localhost', urlScheme: 'http', ident: 'waitress', multiprocess: false };
const HELLO = Buffer.from('Hello, World!', 'latin1');
const HELLO_HEADERS: [string, string][] = [['Content-Type', 'text/plain'], ['Content-Length', '13']];

const silent: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const TASK_SETTINGS: TaskSettings = { ident: 'waitress', exposeTracebacks: false, logger: silent, accessLog: null };

/** A connection that accepts every write at once and only counts the bytes. */
class CountingChannel implements TaskChannel {
  readonly connected = true;
  readonly closeRequested = false;
  bytes = 0;
  write(data: string | Uint8Array): void {
    this.bytes += data.length;
  }
  needsDrain(): boolean {
    return false;
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
}

function parse(head: Buffer): RequestParser {
  const parser = new RequestParser(LIMITS);
  parser.received(head);
  if (!parser.completed || parser.request.error) throw new Error(`benchmark head does not parse: ${parser.request.error?.message}`);
  return parser;
}

/** 16 chunks of 1 KiB and the last chunk, as a client would frame an upload. */
function chunkedBody(): Buffer {
  const piece = `400\r\n${'x'.repeat(1024)}\r\n`;
  return Buffer.from(`${piece.repeat(16)}0\r\n\r\n`, 'latin1');
}

const helloApp: App = (_environ, startResponse) => {
  startResponse('200 OK', HELLO_HEADERS);
  return [HELLO];
};

const KIB = Buffer.alloc(1024, 'x');
/** No Content-Length and a generator body: HTTP/1.1 frames it with chunks. */
const streamingApp: App = (_environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return (function* pieces() {
    for (let i = 0; i < 16; i++) yield KIB;
  })();
};

/** One whole request through Task with a counting channel (no socket). */
function respond(app: App, request: RequestParser['request'], adjust: Pipeline): number {
  const channel = new CountingChannel();
  const task = new Task(request, channel, TASK_SETTINGS, () => undefined);
  const environ = buildEnviron(request, CONNECTION, ENVIRON_SETTINGS);
  adjust(environ, request);
  task.run(app, environ);
  return channel.bytes;
}

async function main(): Promise<void> {
  // mitata is an ES module; this file compiles to CommonJS, so it is loaded with import().
  const { bench, group, run, do_not_optimize } = await import('mitata');
  const browser = parse(BROWSER_HEAD).request;
  const wrk = parse(WRK_HEAD).request;
  const adjust = buildPipeline(makeAdjustments({ logger: silent }));
  const chunked = chunkedBody();

  group('request head parsing (RequestParser)', () => {
    bench('browser head, ~700 B, 17 fields', () => do_not_optimize(parse(BROWSER_HEAD)));
    bench('wrk head, 1 field', () => do_not_optimize(parse(WRK_HEAD)));
  });

  group('environ (buildEnviron, then the default adjustment pipeline)', () => {
    bench('buildEnviron, browser request', () => do_not_optimize(buildEnviron(browser, CONNECTION, ENVIRON_SETTINGS)));
    bench('buildEnviron + pipeline, browser request', () => {
      const environ = buildEnviron(browser, CONNECTION, ENVIRON_SETTINGS);
      adjust(environ, browser);
      do_not_optimize(environ);
    });
  });

  group('response head', () => {
    bench('validateAppHead, 2 headers, the same as last time', () => do_not_optimize(validateAppHead('200 OK', HELLO_HEADERS)));
    let length = 0;
    bench('validateAppHead, 2 headers, a new Content-Length each time', () => {
      length = (length + 1) % 100000;
      do_not_optimize(validateAppHead('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', String(length)]]));
    });
    bench('validateAppHead + serializeHead, 2 headers', () => {
      const head = validateAppHead('200 OK', HELLO_HEADERS);
      do_not_optimize(serializeHead(head, {
        version: '1.1', contentLength: 13, chunked: false, connection: null, date: httpDate(), ident: 'waitress',
      }));
    });
    bench('httpDate (cached per second)', () => do_not_optimize(httpDate()));
  });

  group('chunk framing', () => {
    bench('request: ChunkedDecoder, 16 x 1 KiB', () => {
      const body = new BodyBuffer(LIMITS.inbufOverflow);
      const decoder = new ChunkedDecoder(body, LIMITS.maxRequestBodySize);
      decoder.received(chunked);
      if (!decoder.done) throw new Error('chunked benchmark body did not decode');
      do_not_optimize(body);
    });
    bench('response: Task, generator of 16 x 1 KiB (chunked)', () => do_not_optimize(respond(streamingApp, wrk, adjust)));
    bench('response: Task, hello array body (Content-Length)', () => do_not_optimize(respond(helloApp, wrk, adjust)));
  });

  await run({ colors: process.stdout.isTTY === true, format: process.argv.includes('--markdown') ? 'markdown' : 'mitata' });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
