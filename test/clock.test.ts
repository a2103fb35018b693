import { expect } from 'chai';
import sinon from 'sinon';
import { freshModule } from './helpers/fresh-module.js';

function freshClock(): () => number {
  return freshModule<typeof import('../src/clock.js')>(require.resolve('../src/clock.js')).monotonicMs;
}

describe('monotonicMs', () => {
  let clock: sinon.SinonFakeTimers;
  afterEach(() => clock.restore());

  it('reads the clock once per 50 ms: whole milliseconds, never 0, from a monotonic source', () => {
    clock = sinon.useFakeTimers({ now: Date.UTC(2026, 10, 30), toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    const monotonicMs = freshClock();
    const first = monotonicMs();
    expect(first).to.be.a('number').and.to.be.greaterThan(0);
    expect(Number.isInteger(first)).to.equal(true);
    clock.tick(49);
    expect(monotonicMs()).to.equal(first); // the cached value stands
    clock.tick(1);
    expect(monotonicMs()).to.equal(first + 50);
    clock.setSystemTime(Date.UTC(2020, 0, 1)); // a wall-clock step back changes nothing
    clock.tick(1000);
    expect(monotonicMs()).to.equal(first + 1050);
  });
});
