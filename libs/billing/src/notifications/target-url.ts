import type { LookupAddress, LookupOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * Addresses no production notification goes to: this host, its network, and the cloud's
 * metadata. BlockList applies the IPv4 rules to IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`)
 * too, which reach the IPv4 address they embed.
 */
const NOT_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96], // NAT64: likewise
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, 'ipv6');
}

export class TargetRefused extends Error {}

/** Whether an IP address is one a production notification may reach. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return !NOT_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Where notifications may go. Production: https, no credentials in the URL, and (checked at
 * registration for literal addresses and at every delivery for resolved ones) public addresses
 * only. Elsewhere http and loopback are allowed, for tests and local development.
 */
export class TargetPolicy {
  constructor(readonly publicOnly: boolean) {}

  /** The URL, or why it is refused. */
  check(value: string): URL {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new TargetRefused('not an absolute URL');
    }
    const schemes = this.publicOnly ? ['https:'] : ['https:', 'http:'];
    if (!schemes.includes(url.protocol)) throw new TargetRefused(`the URL must be ${schemes.join(' or ')}`);
    if (url.username || url.password) throw new TargetRefused('the URL must not carry credentials');
    const host = hostOf(url);
    if (this.publicOnly && isIP(host) !== 0 && !isPublicAddress(host)) {
      throw new TargetRefused(`${host} is not a public address`);
    }
    if (this.publicOnly && /^localhost\.?$/i.test(host)) throw new TargetRefused('localhost is not a public host');
    return url;
  }

  /**
   * A `lookup` for http(s).request: resolves the host at connection time and refuses it when any
   * of its addresses is not public, so the address checked is the address connected to (a name
   * that resolves differently a second time, DNS rebinding, gains nothing).
   */
  readonly lookup = (
    hostname: string,
    options: LookupOptions,
    callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const refused = this.publicOnly ? addresses.find((entry) => !isPublicAddress(entry.address)) : undefined;
      if (refused)
        return callback(new TargetRefused(`${hostname} resolves to ${refused.address}, not a public address`), []);
      if (options.all) return callback(null, addresses);
      return callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

/** The URL's host, without IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}
