// The benchmark harness's own logic: reading wrk's report, writing its Lua
// scripts, medians, the response-head check of the download client and the
// CPU-profile reader. No timing is asserted anywhere.

import { expect } from 'chai';
import { parseResponseHead } from './download.js';
import { parseWrkReport, wrkScript, type LoadSpec } from './load.js';
import { selfTimes, type CpuProfile } from './profile-top.js';
import { median, medianSample } from './report.js';
import { choosePinning, onCpus } from './pinning.js';
import { ServerProcess } from './server-process.js';
import * as net from 'node:net';

const WRK_REPORT = `Running 5s test @ http://127.0.0.1:40000/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.49ms  412.10us   9.80ms   88.00%
    Req/Sec    34.16k     2.34k   37.73k    88.00%
  Latency Distribution
     50%  812.00us
     75%    1.50ms
     90%    1.64ms
     99%    2.86ms
  170026 requests in 5.00s, 22.54MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:  33999.14
Transfer/sec:      4.51MB
`;

const SPEC: LoadSpec = { port: 1, path: '/', method: 'GET', connections: 50, durationSec: 5, pipeline: 1, bodyBytes: 0, headers: {} };

describe('bench harness', () => {
  describe('parseWrkReport', () => {
    it('reads requests/s, latency percentiles in any unit, and counts socket errors and non-2xx responses', () => {
      expect(parseWrkReport(WRK_REPORT)).to.deep.equal({ requestsPerSec: 33999.14, p50Ms: 0.812, p99Ms: 2.86, requests: 170026, errors: 8 });
    });

    it('drops the 0.00us 99th percentile wrk 4.1 prints for pipelined runs (below the median: its histogram overflowed)', () => {
      const overflowed = WRK_REPORT.replace(/ 99%\s+\S+/, ' 99%    0.00us');
      expect(overflowed).to.not.equal(WRK_REPORT);
      expect(parseWrkReport(overflowed)).to.include({ p50Ms: 0.812, p99Ms: null });
    });

    it('refuses a report without the --latency distribution', () => {
      const withoutDistribution = WRK_REPORT.replace(/ {5}\d\d%.*\n/g, '');
      expect(() => parseWrkReport(withoutDistribution)).to.throw('no 50% latency');
    });

    it('refuses output that is not a wrk report', () => {
      expect(() => parseWrkReport('unable to connect to 127.0.0.1:1 Connection refused')).to.throw('unrecognised wrk report');
    });
  });

  describe('wrkScript', () => {
    it('sets method and path only, for a plain GET (wrk then sends a static request)', () => {
      expect(wrkScript(SPEC)).to.equal('wrk.method = "GET"\nwrk.path = "/"\n');
    });

    it('concatenates the pipelined requests into one write, as pipeline.lua does', () => {
      const script = wrkScript({ ...SPEC, pipeline: 16 });
      expect(script).to.include('for i = 1, 16 do r[i] = wrk.format() end');
      expect(script).to.include('request = function() return batch end');
    });

    it('sends a body of the given size and the extra headers', () => {
      const script = wrkScript({ ...SPEC, method: 'POST', path: '/echo', bodyBytes: 65536, headers: { Connection: 'close' } });
      expect(script).to.include('wrk.method = "POST"');
      expect(script).to.include('wrk.body = string.rep("x", 65536)');
      expect(script).to.include('wrk.headers["Connection"] = "close"');
    });
  });

  describe('median', () => {
    it('takes the middle value, or the mean of the two middle values', () => {
      expect(median([3, 1, 2])).to.equal(2);
      expect(median([4, 1, 3, 2])).to.equal(2.5);
    });

    it('refuses an empty list', () => {
      expect(() => median([])).to.throw('median of no values');
    });

    it('reduces samples field by field and sums their errors', () => {
      const samples = [
        { value: 10, p50Ms: 1, p99Ms: null, errors: 0, cpuUsPerRequest: 25 },
        { value: 30, p50Ms: 3, p99Ms: null, errors: 2, cpuUsPerRequest: 21 },
        { value: 20, p50Ms: 2, p99Ms: null, errors: 1, cpuUsPerRequest: null },
      ];
      expect(medianSample(samples)).to.deep.equal({ value: 20, p50Ms: 2, p99Ms: null, errors: 3, cpuUsPerRequest: 23 });
    });
  });

  describe('parseResponseHead', () => {
    it('reads the status code and Content-Length, whatever the name case', () => {
      expect(parseResponseHead('HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\nDate: x')).to.deep.equal({ status: 200, contentLength: 1048576 });
    });

    it('reports a missing Content-Length as null', () => {
      expect(parseResponseHead('HTTP/1.1 404 Not Found\r\nConnection: close')).to.deep.equal({ status: 404, contentLength: null });
    });
  });

  describe('selfTimes', () => {
    it('charges each sample the time until the next one and ranks functions by it', () => {
      const frame = (functionName: string, url = '/x/dist/src/parser.js') => ({ functionName, url, lineNumber: 9 });
      const profile: CpuProfile = {
        nodes: [{ id: 1, callFrame: frame('(root)', '') }, { id: 2, callFrame: frame('parse') }, { id: 3, callFrame: frame('') }],
        samples: [2, 3, 2, 1],
        timeDeltas: [0, 1000, 3000, 4000],
      };
      const rows = selfTimes(profile);
      expect(rows.map((r) => [r.label, r.ms])).to.deep.equal([['parse (parser.js:10)', 5], ['(anonymous) (parser.js:10)', 3]]);
      expect(rows[0]!.percent).to.be.closeTo(62.5, 1e-9);
    });
  });

  describe('the raw ceiling server', () => {
    it('answers every request head once, also when a CRLF CRLF is split across reads', async () => {
      const raw = await ServerProcess.start('raw net', { file: null, cpuProfileDir: null });
      try {
        const request = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
        const all = request.repeat(3);
        // Cut inside the first terminator, inside the third request, and byte by byte through the last terminator.
        const pieces = [all.slice(0, 25), all.slice(25, 60), all.slice(60, 78), all[78]!, all[79]!, all[80]!];
        const received = await new Promise<string>((resolve, reject) => {
          const socket = net.connect(raw.port, '127.0.0.1');
          let text = '';
          socket.setEncoding('latin1');
          socket.on('error', reject);
          socket.on('data', (chunk: string) => {
            text += chunk;
            if (text.split('Hello, World!').length - 1 === 3) {
              socket.destroy();
              resolve(text);
            }
          });
          let i = 0;
          const next = () => {
            if (i < pieces.length) socket.write(pieces[i++]!, () => setTimeout(next, 20));
          };
          next();
        });
        expect(received.match(/HTTP\/1\.1 200 OK\r\n/g)).to.have.length(3);
        expect(received).to.include('Content-Length: 13\r\n');
      } finally {
        await raw.stop();
      }
    });
  });

  describe('CPU pinning', () => {
    it('pins servers to the last core and the load to the others, or nothing', () => {
      expect(onCpus(null, 'wrk', ['-t1'])).to.deep.equal(['wrk', ['-t1']]);
      expect(onCpus('1', 'node', ['s.js'])).to.deep.equal(['taskset', ['-c', '1', 'node', 's.js']]);
      expect(choosePinning({ BENCH_PIN: '0' }, 8)).to.deep.equal({ server: null, client: null });
      expect(choosePinning({}, 1)).to.deep.equal({ server: null, client: null });
      const two = choosePinning({}, 2);
      if (two.server !== null) expect(two).to.deep.equal({ server: '1', client: '0' }); // taskset present
      const four = choosePinning({}, 4);
      if (four.server !== null) expect(four).to.deep.equal({ server: '3', client: '0-2' });
    });
  });
});

