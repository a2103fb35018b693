// Which peers count as trusted proxies: the `trustedProxy` option compiled once
// per server into a predicate over REMOTE_ADDR-style strings.
//
// Waitress only knows '*' and an exact address; garcon also takes what Express
// users write for `trust proxy` (proxy-addr does the IP work with ipaddr.js):
// an address, a CIDR, the names loopback/linklocal/uniquelocal, or a
// comma-separated list of those. A unix-socket peer has REMOTE_ADDR 'localhost'
// (contract, decision 14), which no IP range can match, so 'unix' (or Waitress's
// exact 'localhost') names it.

import { isIP } from 'node:net';
import proxyAddr from 'proxy-addr';
import { InvalidOptionError } from './errors.js';
import { UNIX_PEER_ADDRESS } from './environ.js';
import { ownCopy } from './header-names.js';

/** True when `address` (an IP, 'localhost' for a unix peer, or any claimed hop) is a trusted proxy. */
export type TrustPredicate = (address: string) => boolean;

/** trustedProxy entries that mean "a client on the unix socket". */
const UNIX_PEER_NAMES: ReadonlySet<string> = new Set(['unix', UNIX_PEER_ADDRESS]);

/** Distinct addresses whose answer is remembered; past this the memo starts over. */
const MEMO_LIMIT = 1024;

/** The comma-separated entries of `trustedProxy`, trimmed, empty ones dropped. */
function trustEntries(trustedProxy: string | null): string[] {
  return (trustedProxy ?? '').split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
}

const trustAll: TrustPredicate = () => true;
const trustNone: TrustPredicate = () => false;
const isUnixPeer: TrustPredicate = (address) => address === UNIX_PEER_ADDRESS;

/**
 * Compile `trustedProxy` into a predicate. null trusts nobody; '*' trusts every
 * peer (a unix one too). IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, what a
 * dual-stack listener reports) match their IPv4 form. Throws InvalidOptionError
 * for an entry that is neither an address, a CIDR, a range name nor 'unix'.
 */
export function compileTrust(trustedProxy: string | null): TrustPredicate {
  const entries = trustEntries(trustedProxy);
  if (entries.length === 0) return trustNone;
  if (entries.includes('*')) return trustAll;

  const trustsUnixPeer = entries.some((entry) => UNIX_PEER_NAMES.has(entry));
  const ipEntries = entries.filter((entry) => !UNIX_PEER_NAMES.has(entry));
  if (ipEntries.length === 0) return isUnixPeer;

  let matchesIp: (address: string, hop: number) => boolean;
  try {
    matchesIp = proxyAddr.compile(ipEntries);
  } catch (err) {
    throw new InvalidOptionError(
      'trustedProxy',
      `trustedProxy: ${(err as Error).message} (expected an address, a CIDR, loopback, linklocal, uniquelocal, unix or *)`,
    );
  }
  // proxy-addr's predicate returns false for anything that is not an IP, so a
  // claimed hop such as 'unknown' or '_hidden' is never trusted.
  return memoise(
    trustsUnixPeer
      ? (address) => address === UNIX_PEER_ADDRESS || matchesIp(address, 0)
      : (address) => matchesIp(address, 0),
  );
}

/**
 * Parsing an address costs microseconds and the peers are nearly always the
 * same few proxies, so answers are remembered. The memo is bounded: hops an
 * attacker invents can only make it start over, never grow.
 */
function memoise(predicate: TrustPredicate): TrustPredicate {
  const memo = new Map<string, boolean>();
  return (address) => {
    let trusted = memo.get(address);
    if (trusted === undefined) {
      trusted = predicate(address);
      if (memo.size >= MEMO_LIMIT) memo.clear();
      // Hops are slices of a request head: the key must not keep the head alive.
      memo.set(ownCopy(address), trusted);
    }
    return trusted;
  };
}

/**
 * The predicate for the hops a trusted peer forwards. Waitress's own forms, '*' and
 * one exact address (or 'unix'/'localhost'), trust trustedProxyCount hops of
 * X-Forwarded-For / Forwarded as Waitress does (spec 6.2: they must pick the same
 * client; X-Forwarded-Host then follows the depth X-Forwarded-For proved); a list, a CIDR or a
 * range name trusts a hop only when it matches, so a client that forges hops on
 * the left cannot walk the chain past its own address.
 */
export function compileHopTrust(trustedProxy: string | null, peerTrust: TrustPredicate): TrustPredicate {
  const entries = trustEntries(trustedProxy);
  const single = entries.length === 1 ? entries[0]! : null;
  if (single !== null && (single === '*' || isIP(single) !== 0 || UNIX_PEER_NAMES.has(single))) return trustAll;
  return peerTrust;
}
