import { expect } from 'chai';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { createLogger } from '../src/logger.js';

/** A default logger at `level` whose lines are collected. */
function capture(level: Parameters<typeof createLogger>[0] = 'debug'): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: createLogger(level, stream) };
}

describe('the default logger', () => {
  it('prints LEVEL:garcon:message lines at or above its level', () => {
    const { lines, logger } = capture('warn');
    logger.info('hidden');
    logger.warn('shown', 42);
    logger.error('also shown');
    expect(lines).to.deep.equal(['WARNING:garcon:shown 42\n', 'ERROR:garcon:also shown\n']);
  });

  it('never reads its first argument as a format string: client text cannot swallow the error after it', () => {
    const { lines, logger } = capture();
    const err = new Error('boom');
    logger.error('Exception while serving /a%c%s%d', err);
    expect(lines[0]).to.match(/^ERROR:garcon:Exception while serving \/a%c%s%d Error: boom\n {4}at /);
  });

  it('prints what cannot be printed as a placeholder rather than throwing (an app may throw anything)', () => {
    const { lines, logger } = capture();
    const hostile = { toString() { throw new Error('no'); }, [inspect.custom]() { throw new Error('no'); } };
    const badStack = new Error('x');
    Object.defineProperty(badStack, 'stack', { get() { throw new Error('no stack'); } });
    expect(() => logger.error('Exception while serving /', hostile)).not.to.throw();
    expect(() => logger.error('Exception while serving /', badStack)).not.to.throw();
    expect(lines[0]).to.equal('ERROR:garcon:Exception while serving / [unprintable value]\n');
    expect(lines[1]).to.match(/^ERROR:garcon:Exception while serving \/ /);
  });
});
