// A short, seeded run of the differential fuzzer inside `npm test`: every
// disagreement with llhttp must belong to a documented class, and garcon must
// never throw, hang or answer differently from what its parser predicts.

import { expect } from 'chai';
import * as path from 'node:path';
import { fuzz } from './fuzzer.js';

const root = path.resolve(__dirname, '..', '..', '..');

describe('differential fuzzing against llhttp (short run)', () => {
  it('600 seeded mutants: no unexplained disagreement, crash, hang or memory growth', async () => {
    const report = await fuzz({
      seconds: 15,
      maxCases: 600,
      seed: 20240601,
      foundDir: null,
      corpusDir: path.join(root, 'test', 'corpus', 'cases'),
      deadlineMs: 2000,
      maxRssGrowth: 200 * 2 ** 20,
      log: () => undefined,
    });
    expect(report.cases).to.be.at.least(300);
    expect(report.crashes.map((f) => `${f.signature}: ${f.detail}`)).to.deep.equal([]);
    expect(report.hangs.map((f) => `${f.signature}: ${f.detail}`)).to.deep.equal([]);
    expect(report.unexplained.map((f) => `${f.signature}: ${f.detail}`)).to.deep.equal([]);
    expect(report.memoryBounded).to.equal(true);
    // The run must actually exercise both sides: most mutants still parse the same.
    expect(report.agreements).to.be.greaterThan(report.cases / 2);
  });
});
