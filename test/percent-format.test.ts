import { expect } from 'chai';
import { splitPercentFormat } from '../src/percent-format.js';

describe('splitPercentFormat', () => {
  it('splits text and %(name)s references, alternating, with %% as a %', () => {
    expect(splitPercentFormat('')).to.deep.equal(['']);
    expect(splitPercentFormat('plain')).to.deep.equal(['plain']);
    expect(splitPercentFormat('%(a)s')).to.deep.equal(['', 'a', '']);
    expect(splitPercentFormat('x %(here)s/y 100%% %(b)s%(c)s!')).to.deep.equal(['x ', 'here', '/y 100% ', 'b', '', 'c', '!']);
  });

  it('gives the index of a % that starts neither form', () => {
    expect(splitPercentFormat('50% off')).to.equal(2);
    expect(splitPercentFormat('a %(open')).to.equal(2);
    expect(splitPercentFormat('%%%d')).to.equal(2);
    expect(splitPercentFormat('end %')).to.equal(4);
  });
});
