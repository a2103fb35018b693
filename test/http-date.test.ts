import { expect } from 'chai';
import sinon from 'sinon';
import { freshModule } from './helpers/fresh-module.js';

function freshHttpDate(): () => string {
  return freshModule<typeof import('../src/http-date.js')>(require.resolve('../src/http-date.js')).httpDate;
}

describe('httpDate', () => {
  let clock: sinon.SinonFakeTimers;
  afterEach(() => clock.restore());

  it('gives the IMF-fixdate of the current second, and the next one once the second is over', () => {
    clock = sinon.useFakeTimers({ now: Date.UTC(2026, 10, 24, 7, 42, 56, 700) });
    const httpDate = freshHttpDate();
    expect(httpDate()).to.equal('Tue, 24 Nov 2026 07:42:56 GMT');
    clock.tick(299); // 999 ms into the same second: the cached value stands
    expect(httpDate()).to.equal('Tue, 24 Nov 2026 07:42:56 GMT');
    clock.tick(1); // the second boundary
    expect(httpDate()).to.equal('Tue, 24 Nov 2026 07:42:57 GMT');
    clock.tick(60_000);
    expect(httpDate()).to.equal('Tue, 24 Nov 2026 07:43:57 GMT');
  });

  it('uses a two-digit day, as IMF-fixdate requires', () => {
    clock = sinon.useFakeTimers({ now: Date.UTC(2027, 0, 3, 0, 0, 0) });
    expect(freshHttpDate()()).to.equal('Sun, 03 Jan 2027 00:00:00 GMT');
  });
});
