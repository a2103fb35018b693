// `npm run soak [-- --seconds N --clients N]`: a few minutes of mixed valid and
// hostile traffic from this process against a garcon server in another one,
// reporting requests served, errors, and the server's RSS over time, and whether
// RSS levelled off (the last third of the samples grows less than 10 %).

import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { loadCorpus } from '../corpus/format.js';
import { parseResponses } from '../helpers/http.js';

const root = path.resolve(__dirname, '..', '..', '..');

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

interface Tally {
  requests: number;
  ok: number;
  refused: number;
  resets: number;
  /** Exchanges that got neither a response nor a close within the deadline. */
  stuck: number;
}

/** One exchange: send `bytes` (optionally resetting half-way), half-close, wait for the close. */
function exchange(port: number, bytes: Buffer, reset: boolean, tally: Tally): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      tally.stuck++;
      socket.destroy();
    }, 10000);
    socket.on('error', () => undefined);
    socket.on('data', (c) => chunks.push(c));
    socket.on('close', () => {
      clearTimeout(timer);
      for (const r of parseResponses(Buffer.concat(chunks)).responses) {
        if (r.status === 200) tally.ok++;
        else tally.refused++;
      }
      resolve();
    });
    socket.on('connect', () => {
      tally.requests++;
      if (reset) {
        tally.resets++;
        socket.write(bytes.subarray(0, bytes.length >> 1), () => socket.resetAndDestroy());
      } else {
        socket.end(bytes);
      }
    });
  });
}

async function main(): Promise<void> {
  const seconds = option('seconds', 180);
  const clients = option('clients', 16);
  const corpus = loadCorpus(path.join(root, 'test', 'corpus', 'cases')).filter((c) => c.bytes.length < 65536).map((c) => c.bytes);
  const upload = Buffer.concat([Buffer.from('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 262144\r\n\r\n'), Buffer.alloc(262144, 0x75)]);
  const child = spawn(process.execPath, [path.join(__dirname, 'server.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout! });
  const waiters: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiters.shift()?.(line));
  const nextLine = () => new Promise<string>((resolve) => waiters.push(resolve));
  const port = Number((await nextLine()).slice(5));
  const rss = async () => {
    child.stdin!.write('rss\n');
    return Number((await nextLine()).slice(4));
  };

  const tally: Tally = { requests: 0, ok: 0, refused: 0, resets: 0, stuck: 0 };
  const samples: { at: number; rssMb: number }[] = [];
  const started = Date.now();
  const stopAt = started + seconds * 1000;
  let n = 0;
  const worker = async () => {
    while (Date.now() < stopAt) {
      const i = n++;
      const bytes = i % 10 === 0 ? upload : corpus[i % corpus.length]!;
      await exchange(port, bytes, i % 17 === 0, tally);
    }
  };
  const sampler = setInterval(() => {
    void rss().then((bytes) => {
      const sample = { at: Math.round((Date.now() - started) / 1000), rssMb: Math.round(bytes / 2 ** 20) };
      samples.push(sample);
      console.log(`${sample.at}s: RSS ${sample.rssMb} MB, ${tally.requests} exchanges, ${tally.ok} ok, ${tally.refused} refused, ${tally.resets} resets, ${tally.stuck} stuck`);
    });
  }, Math.max(1000, (seconds * 1000) / 30));
  await Promise.all(Array.from({ length: clients }, worker));
  clearInterval(sampler);
  child.stdin!.write('stop\n');

  const third = samples.slice(Math.floor((samples.length * 2) / 3));
  const first = third[0]?.rssMb ?? 0;
  const last = third[third.length - 1]?.rssMb ?? 0;
  const levelled = third.length >= 2 && last <= first * 1.1;
  console.log(`served ${tally.ok}, refused ${tally.refused}, resets ${tally.resets}, stuck ${tally.stuck}, in ${seconds} s`);
  console.log(`RSS over the last third: ${first} MB -> ${last} MB (${levelled ? 'levelled off' : 'STILL GROWING'})`);
  process.exitCode = levelled && tally.stuck === 0 ? 0 : 1;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 2;
});
