import { expect } from 'chai';
import { InvalidOptionError } from '../src/errors.js';
import type { Adjuster } from '../src/pipeline.js';
import type { Environ } from '../src/types.js';
import { createUrlPrefixAdjuster } from '../src/url-prefix.js';

function split(adjust: Adjuster, path: string): [string, string] {
  const environ = { SCRIPT_NAME: '', PATH_INFO: path } as unknown as Environ;
  adjust(environ);
  return [environ.SCRIPT_NAME, environ.PATH_INFO];
}

describe('url prefix', () => {
  const adjust = createUrlPrefixAdjuster('/foo') as Adjuster;

  const cases: [string, string, string][] = [
    ['/foo', '/foo', ''],
    ['/foo/', '/foo', '/'],
    ['/foo/bar', '/foo', '/bar'],
    ['/foo//bar', '/foo', '//bar'],
    ['/foobar', '/foo', '/foobar'],
    ['/bar', '/foo', '/bar'],
    ['/fo', '/foo', '/fo'],
    ['', '/foo', ''],
    ['*', '/foo', '*'],
  ];
  for (const [path, scriptName, pathInfo] of cases) {
    it(`${JSON.stringify(path)} -> SCRIPT_NAME ${scriptName}, PATH_INFO ${JSON.stringify(pathInfo)}`, () => {
      expect(split(adjust, path)).to.deep.equal([scriptName, pathInfo]);
    });
  }

  it('matches a multi-segment prefix by whole segments', () => {
    const nested = createUrlPrefixAdjuster('/a/b') as Adjuster;
    expect(split(nested, '/a/b/c')).to.deep.equal(['/a/b', '/c']);
    expect(split(nested, '/a/bc')).to.deep.equal(['/a/b', '/a/bc']);
    expect(split(nested, '/a')).to.deep.equal(['/a/b', '/a']);
  });

  it('is not built for the empty prefix', () => {
    expect(createUrlPrefixAdjuster('')).to.equal(null);
  });

  it('rejects a prefix that is not normalised', () => {
    for (const prefix of ['foo', '/foo/', '/']) {
      expect(() => createUrlPrefixAdjuster(prefix), prefix).to.throw(InvalidOptionError).with.property('option', 'urlPrefix');
    }
  });
});
