// The trusted-proxy stage: when the peer is a trusted proxy, take the client
// address, scheme, host and port it reports (X-Forwarded-* or RFC 7239
// Forwarded) into the environ; proxy headers nobody vouches for are removed
// (contract, decision 13). Waitress behaviour (spec section 6) with its fixes:
// `[v6]:port` hops are split properly (Q21), the headers the app sees are cut
// down to the trusted hops (Waitress 3.0.2), and `trustedProxy` may be a list,
// in which case the chain is only followed through hops that are trusted.

import { removeKeys } from './environ.js';
import { BadRequest, InvalidOptionError } from './errors.js';
import type { Adjuster } from './pipeline.js';
import { PROXY_FIELD_NAMES, isQdtext, isQuotedPairChar, knownEnvironKey, trimOws, type ProxyFieldName } from './header-names.js';
import { isPortNumber, isValidHost } from './request-target.js';
import { compileHopTrust, compileTrust, type TrustPredicate } from './trust.js';
import type { Environ, Logger } from './types.js';

/** The options of this stage, as they appear on `Adjustments`. */
export interface ProxyHeaderOptions {
  /** Who is trusted: '*', an address, a CIDR, a range name, 'unix', or a comma-separated list (see trust.ts). */
  readonly trustedProxy: string | null;
  /** How many proxies at most are chained in front of the server (Waitress `trusted_proxy_count`). */
  readonly trustedProxyCount: number;
  /** Lower-case names of the proxy headers the trusted proxy sets. */
  readonly trustedProxyHeaders: ReadonlySet<string>;
  readonly clearUntrustedProxyHeaders: boolean;
  readonly logUntrustedProxyHeaders: boolean;
  readonly logger: Logger;
}

interface ProxyHeader {
  /** Lower-case name as listed in trustedProxyHeaders. */
  readonly name: string;
  readonly key: string;
  /** Name as shown in log lines and error pages. */
  readonly label: string;
}

/** The six headers this stage knows (header-names' PROXY_FIELD_NAMES); any other header is the app's business. */
const PROXY_HEADERS: readonly ProxyHeader[] = PROXY_FIELD_NAMES.map((label) => ({
  name: label.toLowerCase(),
  key: knownEnvironKey(label),
  label,
}));

function known(label: ProxyFieldName): ProxyHeader {
  return PROXY_HEADERS.find((h) => h.label === label)!;
}

const XFF = known('X-Forwarded-For');
const XFH = known('X-Forwarded-Host');
const XFPROTO = known('X-Forwarded-Proto');
const XFPORT = known('X-Forwarded-Port');
const FORWARDED = known('Forwarded');

/** What the trusted hops said; '' where they said nothing. */
interface ForwardedValues {
  clientAddress: string;
  /** Label naming where `clientAddress` came from, for the malformed-header message. */
  clientLabel: string;
  host: string;
  /** Label naming where `host` came from, for the malformed-header message. */
  hostLabel: string;
  proto: string;
  /** Label naming where `proto` came from, for the malformed-header message. */
  protoLabel: string;
  port: string;
}

/** Client text in a warning, cut short: a value may be 256 KiB (field values hold no CR or LF). */
function shown(text: string): string {
  return text.length <= SHOWN_MAX ? text : `${text.slice(0, SHOWN_MAX)}...(${text.length - SHOWN_MAX} more)`;
}
const SHOWN_MAX = 256;

/** A proxy header that cannot be interpreted; turned into a 400 by the adjuster. */
class MalformedProxyHeader extends Error {
  constructor(
    readonly label: string,
    readonly reason: string,
    readonly value: string,
  ) {
    super(reason);
  }
}

/**
 * A client address as REMOTE_ADDR may hold it: an IPv4 or IPv6 address (with a
 * zone), `unknown`, an RFC 7239 obfuscated name, or a name, but nothing that
 * could split the access log's fields or lines (a space, a quote, a backslash).
 */
function isClientAddress(text: string): boolean {
  return /^[A-Za-z0-9._:%-]+$/.test(text);
}

/** RFC 7239 section 6.3: an obfuscated port, `_` then letters, digits, `.`, `_` or `-`. */
function isObfuscatedPort(text: string): boolean {
  return /^_[A-Za-z0-9._-]+$/.test(text);
}

const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;


/**
 * A value quoted at both ends must be a whole quoted-string and is unescaped;
 * a value quoted at neither end is used as is; anything else is malformed.
 */
export function unquote(value: string, label: string): string {
  const last = value.length - 1;
  const opens = value.charCodeAt(0) === DQUOTE;
  const closes = last > 0 && value.charCodeAt(last) === DQUOTE;
  if (!opens && !closes) return value;
  const text = opens && closes ? readQuotedString(value) : null;
  if (text === null) throw new MalformedProxyHeader(label, 'Invalid quoting in value', value);
  return text;
}

/** The content of a quoted-string spanning all of `quoted`, or null when it is not one. */
function readQuotedString(quoted: string): string | null {
  const last = quoted.length - 1;
  // Slices between escapes, not a char at a time: a 256 KiB value made 256 K strings.
  let text = '';
  let from = 1;
  for (let i = 1; i < last; i++) {
    let code = quoted.charCodeAt(i);
    const escaped = code === BACKSLASH;
    if (escaped) {
      text += quoted.slice(from, i);
      from = i + 1;
      code = quoted.charCodeAt(++i);
    }
    // i === last: the backslash escaped the closing quote, so the string never ends.
    if (i === last || !(escaped ? isQuotedPairChar(code) : isQdtext(code))) return null;
  }
  return text + quoted.slice(from, last);
}

/**
 * Split a claimed hop (`1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:443`)
 * into address and port. Fixes Waitress Q21, which double-bracketed `[v6]:port`.
 * Addresses are not validated: `unknown` and `_hidden` (RFC 7239 section 6) pass.
 */
export function splitAddress(hop: string): { address: string; port: string } {
  if (hop.charCodeAt(0) === LBRACKET) {
    const close = hop.indexOf(']');
    if (close !== -1) {
      const address = hop.slice(1, close);
      if (close === hop.length - 1) return { address, port: '' };
      if (hop.charCodeAt(close + 1) === COLON) return { address, port: hop.slice(close + 2) };
    }
    return { address: hop, port: '' };
  }
  const colon = hop.indexOf(':');
  // Two or more colons: a bare IPv6 address, which cannot carry a port.
  if (colon === -1 || colon !== hop.lastIndexOf(':')) return { address: hop, port: '' };
  return { address: hop.slice(0, colon), port: hop.slice(colon + 1) };
}

/** The last `count` comma-separated elements of a list header, OWS-trimmed, in order. */
function lastElements(value: string, count: number): string[] {
  // One proxy in front, the usual case: one element, nothing to split.
  if (!value.includes(',')) return [trimOws(value)];
  // Taken from the end: a 256 KiB value of 100,000 hops is not split to keep a few.
  const elements: string[] = [];
  let end = value.length;
  for (;;) {
    const comma = end === 0 ? -1 : value.lastIndexOf(',', end - 1);
    elements.push(trimOws(value.slice(comma + 1, end)));
    if (comma === -1 || elements.length === count) break;
    end = comma;
  }
  return elements.reverse();
}

/**
 * The hops of the trusted chain, right-most first. `hops` are the right-most
 * trustedProxyCount elements. The right-most hop is what the (trusted) peer saw,
 * so it is always taken; the walk goes one hop further left only while the hop
 * just taken is itself trusted (`trust`, from compileHopTrust). With '*' or one
 * exact address every hop is, which is Waitress's "N-th from the right"; with a
 * list, a client that forges extra hops on the left stops the walk at its own,
 * real address. A hop is read (unquoted, parsed, maybe refused) only when the
 * walk reaches it: a malformed entry left of the chain is the client's, dropped unread.
 */
function walkTrusted<T>(hops: readonly string[], read: (hop: string) => T, addressOf: (value: T) => string, trust: TrustPredicate): T[] {
  const taken: T[] = [];
  for (let i = hops.length - 1; i >= 0; i--) {
    const value = read(hops[i] as string);
    taken.push(value);
    if (!trust(addressOf(value))) break;
  }
  return taken;
}

/** A port checked by isPortNumber, without leading zeros: 0443 is 443 (RFC 3986 section 6.2.3), not another port in HTTP_HOST. */
function canonicalPort(digits: string): string {
  return String(Number(digits));
}

/** One RFC 7239 forwarded-element, only the parameters garcon uses. */
interface ForwardedElement {
  for: string;
  host: string;
  proto: string;
}

/** Parameters one Forwarded element may have: RFC 7239 defines four (for, by, host, proto), and extensions are rare. */
const MAX_FORWARDED_PAIRS = 16;

/**
 * Parse `for=...;proto=...;host=...` (RFC 7239 section 4: no whitespace around
 * `=` or `;`). Names and values are lower-cased as Waitress does.
 */
function parseForwardedElement(element: string, logger: Logger): ForwardedElement {
  const parsed: ForwardedElement = { for: '', host: '', proto: '' };
  const seen = new Set<string>();
  const unknown: string[] = [];
  for (const rawPair of element.split(';')) {
    const pair = rawPair.toLowerCase();
    if (pair === '') continue; // empty pairs are allowed: [pair] *(";" [pair])
    // RFC 7239 defines four parameters, each at most once: tens of thousands in one element
    // (256 KiB of them) only cost time, checked and logged one by one.
    if (seen.size === MAX_FORWARDED_PAIRS) {
      throw new MalformedProxyHeader('Forwarded', `More than ${MAX_FORWARDED_PAIRS} parameters in one element`, element);
    }
    const equals = pair.indexOf('=');
    if (equals === -1) throw new MalformedProxyHeader('Forwarded', 'Invalid forwarded-pair missing "="', pair);
    const token = pair.slice(0, equals);
    const value = pair.slice(equals + 1);
    if (trimOws(token) !== token) {
      throw new MalformedProxyHeader('Forwarded', 'Token may not be surrounded by whitespace', pair);
    }
    if (trimOws(value) !== value) {
      throw new MalformedProxyHeader('Forwarded', 'Value may not be surrounded by whitespace', pair);
    }
    // RFC 7239 section 4: a parameter MUST NOT occur more than once per element (which one would count?).
    if (seen.has(token)) throw new MalformedProxyHeader('Forwarded', 'Parameter given twice in one element', element);
    seen.add(token);
    if (token === 'for' || token === 'host' || token === 'proto') {
      parsed[token] = unquote(value, 'Forwarded');
    } else if (token === 'by') {
      unquote(value, 'Forwarded'); // validated like the others, but nothing uses it
    } else {
      unknown.push(token);
    }
  }
  // One line per element, not one per parameter a client made up.
  if (unknown.length > 0) logger.warn(`Unknown Forwarded token${unknown.length > 1 ? 's' : ''}: ${shown(unknown.join(', '))}`);
  return parsed;
}

/** Read RFC 7239 Forwarded, cut it to the trusted hops; the oldest trusted value of each field wins. */
function readForwarded(environ: Environ, trust: TrustPredicate, maxHops: number, logger: Logger): ForwardedValues {
  const values: ForwardedValues = { clientAddress: '', clientLabel: 'Forwarded For=', host: '', hostLabel: 'Forwarded Host=', proto: '', protoLabel: 'Forwarded Proto=', port: '' };
  const raw = environ[FORWARDED.key];
  if (typeof raw !== 'string' || raw === '') return values;
  const kept = lastElements(raw, maxHops);
  const taken = walkTrusted(kept, (element) => parseForwardedElement(element, logger), (element) => splitAddress(element.for).address, trust);
  environ[FORWARDED.key] = kept.slice(kept.length - taken.length).join(', ');
  // Right-most first, so the oldest trusted value of each field is the one left.
  for (const element of taken) {
    if (element.for !== '') values.clientAddress = element.for;
    if (element.host !== '') values.host = element.host;
    if (element.proto !== '') values.proto = element.proto;
  }
  return values;
}

/** A single-valued X-Forwarded-Proto/-Port: a list there has no defined meaning. */
function readSingleValue(environ: Environ, source: ProxyHeader): string {
  const raw = environ[source.key];
  if (typeof raw !== 'string') return '';
  const value = unquote(trimOws(raw), source.label);
  if (value.includes(',')) {
    throw new MalformedProxyHeader(source.label, 'Unspecified behavior for multiple values found in header', value);
  }
  return value;
}

interface XForwardedPlan {
  readonly forFor: boolean;
  readonly forHost: boolean;
  readonly forProto: boolean;
  readonly forPort: boolean;
}

/** Read the trusted X-Forwarded-* headers, cutting the list ones to the trusted hops. */
function readXForwarded(environ: Environ, plan: XForwardedPlan, trust: TrustPredicate, maxHops: number): ForwardedValues {
  const values: ForwardedValues = { clientAddress: '', clientLabel: XFF.label, host: '', hostLabel: XFH.label, proto: '', protoLabel: XFPROTO.label, port: '' };
  // X-Forwarded-Host follows the depth proven by X-Forwarded-For: each proxy appends to both.
  let depth = maxHops;
  const forwardedFor = plan.forFor ? environ[XFF.key] : undefined;
  if (typeof forwardedFor === 'string') {
    const hops = lastElements(forwardedFor, maxHops);
    const taken = walkTrusted(hops, (hop) => unquote(hop, XFF.label), (address) => splitAddress(address).address, trust);
    depth = taken.length;
    values.clientAddress = taken[depth - 1] ?? '';
    environ[XFF.key] = hops.slice(hops.length - depth).join(', ');
  }
  const forwardedHost = plan.forHost ? environ[XFH.key] : undefined;
  if (typeof forwardedHost === 'string') {
    const hops = lastElements(forwardedHost, depth);
    values.host = unquote(hops[0] ?? '', XFH.label);
    environ[XFH.key] = hops.join(', ');
  }
  if (plan.forProto) values.proto = readSingleValue(environ, XFPROTO);
  if (plan.forPort) {
    values.port = readSingleValue(environ, XFPORT);
    // Stricter than Waitress: anything but a port would end up in SERVER_PORT and HTTP_HOST.
    if (values.port !== '') {
      if (!isPortNumber(values.port)) throw new MalformedProxyHeader(XFPORT.label, 'Invalid port', values.port);
      values.port = canonicalPort(values.port);
    }
  }
  return values;
}

/** Write what the trusted proxy reported into the environ (spec 6.5, in this order). */
function applyForwardedValues(environ: Environ, values: ForwardedValues): void {
  let port = values.port;
  if (values.proto !== '') {
    const scheme = values.proto.toLowerCase();
    // The url_scheme step: a trusted proxy may only switch between the two schemes WSGI knows.
    if (scheme !== 'http' && scheme !== 'https') {
      throw new MalformedProxyHeader(values.protoLabel, 'Invalid scheme, expected http or https', values.proto);
    }
    environ['wsgi.url_scheme'] = scheme;
    if (port === '') port = scheme === 'http' ? '80' : '443';
  }
  if (values.host !== '') {
    const given = values.host;
    // Stricter than Waitress: apps build URLs from HTTP_HOST, which the parser holds to the same rule.
    if (!isValidHost(given)) throw new MalformedProxyHeader(values.hostLabel, 'Invalid host', given);
    const colon = given.lastIndexOf(':');
    // An http(s) URI's host may not be empty (RFC 9110 section 4.2.1): ':80' names none.
    if (colon === 0) throw new MalformedProxyHeader(values.hostLabel, 'Invalid host', given);
    const hasColon = colon !== -1 && given.charCodeAt(given.length - 1) !== RBRACKET;
    const host = hasColon ? given.slice(0, colon) : given;
    const hostPort = hasColon ? given.slice(colon + 1) : '';
    environ.SERVER_NAME = host;
    if (hostPort !== '') {
      // host:port -- the port named with the host wins over X-Forwarded-Port.
      if (!isPortNumber(hostPort)) throw new MalformedProxyHeader(values.hostLabel, 'Invalid port', given);
      port = canonicalPort(hostPort);
      environ.HTTP_HOST = `${host}:${port}`;
    } else {
      // ('host:' with no digits is the scheme's default port, RFC 3986 section 3.2.3: as if none were named.)
      environ.HTTP_HOST = host;
      const scheme = environ['wsgi.url_scheme'];
      // Keep the port in Host unless it is the default one of the scheme in use.
      if (port !== '' && !((port === '80' && scheme === 'http') || (port === '443' && scheme === 'https'))) {
        environ.HTTP_HOST = `${host}:${port}`;
      }
    }
  }
  if (port !== '') environ.SERVER_PORT = port;
  if (values.clientAddress !== '') {
    const { address, port: clientPort } = splitAddress(values.clientAddress);
    if (!isClientAddress(address)) throw new MalformedProxyHeader(values.clientLabel, 'Invalid address', values.clientAddress);
    if (clientPort !== '' && !isPortNumber(clientPort) && !isObfuscatedPort(clientPort)) {
      throw new MalformedProxyHeader(values.clientLabel, 'Invalid port', values.clientAddress);
    }
    environ.REMOTE_ADDR = address;
    environ.REMOTE_HOST = address;
    if (clientPort !== '') environ.REMOTE_PORT = isObfuscatedPort(clientPort) ? clientPort : canonicalPort(clientPort);
  }
}

/**
 * Build the trusted-proxy stage, or null when it has nothing to do (no
 * `trustedProxy` and untrusted headers are kept), as in Waitress section 6.1.
 * Throws InvalidOptionError for an unusable `trustedProxy` or `trustedProxyCount`.
 */
export function createProxyHeaderAdjuster(options: ProxyHeaderOptions): Adjuster | null {
  const { trustedProxyHeaders: names, trustedProxyCount: maxHops, logger } = options;
  if (!Number.isInteger(maxHops) || maxHops < 1) {
    throw new InvalidOptionError('trustedProxyCount', `trustedProxyCount must be an integer >= 1, got ${maxHops}`);
  }
  if (options.trustedProxy === null && !options.clearUntrustedProxyHeaders) return null;
  const trust = compileTrust(options.trustedProxy);
  const hopTrust = compileHopTrust(options.trustedProxy, trust);
  const useForwarded = names.has(FORWARDED.name);
  // Trusting Forwarded distrusts every X-Forwarded-* header (Waitress's rule).
  const plan: XForwardedPlan = {
    forFor: !useForwarded && names.has(XFF.name),
    forHost: !useForwarded && names.has(XFH.name),
    forProto: !useForwarded && names.has(XFPROTO.name),
    forPort: !useForwarded && names.has(XFPORT.name),
  };
  const untrustedFromTrustedPeer = useForwarded
    ? PROXY_HEADERS.filter((h) => h !== FORWARDED)
    : PROXY_HEADERS.filter((h) => h === FORWARDED || !names.has(h.name));

  const removeUntrusted = (environ: Environ, untrusted: readonly ProxyHeader[]): void => {
    if (!options.clearUntrustedProxyHeaders) return;
    const removed: string[] = [];
    const keys: string[] = [];
    for (const h of untrusted) {
      if (environ[h.key] === undefined) continue;
      keys.push(h.key);
      removed.push(h.label);
    }
    if (keys.length === 0) return;
    removeKeys(environ, keys);
    if (options.logUntrustedProxyHeaders) {
      logger.warn(`Removed untrusted headers (${removed.join(', ')}). garcon recommends these be removed upstream.`);
    }
  };

  // The pipeline runs this stage only for requests that carry a proxy header
  // (ParsedRequest.fieldFlags); without one it would change nothing.
  return (environ) => {
    if (!trust(environ.REMOTE_ADDR)) {
      removeUntrusted(environ, PROXY_HEADERS);
      return;
    }
    try {
      const values = useForwarded
        ? readForwarded(environ, hopTrust, maxHops, logger)
        : readXForwarded(environ, plan, hopTrust, maxHops);
      applyForwardedValues(environ, values);
    } catch (err) {
      if (!(err instanceof MalformedProxyHeader)) throw err;
      logger.warn(
        `Malformed proxy header "${err.label}" from "${environ.REMOTE_ADDR}": ${err.reason} value: ${shown(err.value)}`,
      );
      throw new BadRequest(`Header "${err.label}" malformed.`);
    }
    removeUntrusted(environ, untrustedFromTrustedPeer);
  };
}
