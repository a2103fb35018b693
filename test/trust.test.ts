import { expect } from 'chai';
import { InvalidOptionError } from '../src/errors.js';
import { compileHopTrust, compileTrust } from '../src/trust.js';

describe('compileTrust', () => {
  it('trusts nobody without a trustedProxy, or with an empty list', () => {
    for (const value of [null, '', ' , ']) {
      const trust = compileTrust(value);
      expect(trust('127.0.0.1')).to.equal(false);
      expect(trust('localhost')).to.equal(false);
    }
  });

  it("'*' trusts every peer, a unix one and unparseable claims included", () => {
    const trust = compileTrust('*');
    for (const address of ['10.0.0.1', '2001:db8::1', 'localhost', 'unknown', '']) {
      expect(trust(address), address).to.equal(true);
    }
    expect(compileTrust('10.0.0.1, *')('192.0.2.1')).to.equal(true);
  });

  it('matches an exact address, also in its IPv4-mapped IPv6 form', () => {
    const trust = compileTrust('10.0.0.1');
    expect(trust('10.0.0.1')).to.equal(true);
    expect(trust('::ffff:10.0.0.1')).to.equal(true);
    expect(trust('10.0.0.2')).to.equal(false);
    expect(trust('localhost')).to.equal(false);
  });

  it('compares IPv6 addresses by value, not spelling', () => {
    const trust = compileTrust('::1');
    expect(trust('::1')).to.equal(true);
    expect(trust('0:0:0:0:0:0:0:1')).to.equal(true);
    expect(trust('::2')).to.equal(false);
  });

  it('matches CIDR ranges and comma-separated lists', () => {
    const trust = compileTrust('10.0.0.0/8, 2001:db8::/32 ,192.168.1.7');
    expect(trust('10.200.3.4')).to.equal(true);
    expect(trust('2001:db8:1::5')).to.equal(true);
    expect(trust('192.168.1.7')).to.equal(true);
    expect(trust('11.0.0.1')).to.equal(false);
    expect(trust('192.168.1.8')).to.equal(false);
  });

  it('knows the loopback, linklocal and uniquelocal names', () => {
    expect(compileTrust('loopback')('127.0.0.9')).to.equal(true);
    expect(compileTrust('loopback')('::1')).to.equal(true);
    expect(compileTrust('loopback')('::ffff:127.0.0.1')).to.equal(true);
    expect(compileTrust('linklocal')('169.254.1.1')).to.equal(true);
    expect(compileTrust('linklocal')('fe80::1')).to.equal(true);
    expect(compileTrust('uniquelocal')('172.16.4.4')).to.equal(true);
    expect(compileTrust('uniquelocal')('fd00::1')).to.equal(true);
    expect(compileTrust('uniquelocal')('8.8.8.8')).to.equal(false);
  });

  it("trusts a unix-socket peer (REMOTE_ADDR 'localhost') for 'unix' or 'localhost' only", () => {
    for (const value of ['unix', 'localhost']) {
      const trust = compileTrust(value);
      expect(trust('localhost')).to.equal(true);
      expect(trust('127.0.0.1')).to.equal(false);
    }
    const both = compileTrust('unix, loopback');
    expect(both('localhost')).to.equal(true);
    expect(both('127.0.0.1')).to.equal(true);
    expect(both('10.0.0.1')).to.equal(false);
    expect(compileTrust('loopback')('localhost')).to.equal(false);
  });

  it('never trusts a claimed hop that is not an address', () => {
    const trust = compileTrust('10.0.0.0/8');
    for (const hop of ['unknown', '_hidden', '', '[10.0.0.1]', '10.0.0.1:80']) {
      expect(trust(hop), hop).to.equal(false);
    }
  });

  it('keeps answering correctly once more distinct addresses than it remembers were asked about', () => {
    const trust = compileTrust('10.0.0.0/16');
    for (let i = 0; i < 3000; i++) {
      const address = `10.${i % 2}.${(i >> 8) & 255}.${i & 255}`;
      expect(trust(address), address).to.equal(i % 2 === 0);
    }
    expect(trust('10.0.0.1')).to.equal(true);
    expect(trust('10.1.0.1')).to.equal(false);
  });

  it('rejects entries that are neither addresses, ranges nor names', () => {
    for (const value of ['proxy.example', '10.0.0.0/33', '10.0.0.1, nope']) {
      expect(() => compileTrust(value), value)
        .to.throw(InvalidOptionError)
        .with.property('option', 'trustedProxy');
    }
  });
});

describe('compileHopTrust', () => {
  it("trusts every forwarded hop for Waitress's forms: '*' and one exact address (or unix)", () => {
    for (const option of ['*', '10.0.0.1', ' ::1 ', 'unix', 'localhost']) {
      expect(compileHopTrust(option, compileTrust(option))('203.0.113.9'), option).to.equal(true);
    }
  });

  it('trusts a hop only when it matches, for a list, a CIDR or a range name', () => {
    for (const option of ['10.0.0.1, 10.0.0.2', '10.0.0.0/8', 'loopback']) {
      const hop = compileHopTrust(option, compileTrust(option));
      expect(hop('203.0.113.9'), option).to.equal(false);
    }
    expect(compileHopTrust('10.0.0.0/8', compileTrust('10.0.0.0/8'))('10.1.2.3')).to.equal(true);
  });
});
