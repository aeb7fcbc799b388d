import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { BlockList, isIP } from "node:net";

/**
 * Where upstream calls may go. Connections carry admin-supplied base URLs, so without a policy
 * the gateway could be pointed at its own network (cloud metadata, databases, admin ports).
 */
export interface NetworkPolicy {
  /** Loopback, private, link-local and other non-public addresses: refused unless true. */
  allowPrivate: boolean;
  /** When set, only these hosts (exact, or `*.example.com` for subdomains). */
  allowedHosts?: string[] | undefined;
}

// Two lists: Node's BlockList also checks an IPv4 address against IPv6 rules as ::ffff:a.b.c.d,
// so the IPv6 rule that refuses every IPv4-mapped literal would otherwise refuse all of IPv4.
const nonPublic = new BlockList();
const nonPublic6 = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  nonPublic.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  // Unspecified, loopback and the deprecated IPv4-compatible form (::a.b.c.d).
  ["::", 96],
  // IPv6 forms that carry an IPv4 address, whichever it is: IPv4-mapped (::ffff:a.b.c.d, in any
  // spelling), SIIT (::ffff:0:a.b.c.d), NAT64 (64:ff9b::/96 and the local 64:ff9b:1::/48), 6to4
  // (2002::/16) and Teredo (2001::/32). No vendor API is addressed so; each could reach inside.
  ["::ffff:0:0", 96],
  ["::ffff:0:0:0", 96],
  ["64:ff9b::", 96],
  ["64:ff9b:1::", 48],
  ["2002::", 16],
  ["2001::", 32],
  ["100::", 64],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  // Site-local, deprecated but still routed inside some networks.
  ["fec0::", 10],
  ["ff00::", 8],
] as const) {
  nonPublic6.addSubnet(network, prefix, "ipv6");
}

export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  return family === 4 ? nonPublic.check(address, "ipv4") : family === 6 ? nonPublic6.check(address, "ipv6") : false;
}

/** Why a host may not be called, or undefined when it may. Checks names and address literals. */
export function hostRefusal(policy: NetworkPolicy, hostname: string): string | undefined {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (policy.allowedHosts?.length) {
    const listed = policy.allowedHosts.some((allowed) =>
      allowed.startsWith("*.") ? host.endsWith(allowed.slice(1)) : host === allowed.toLowerCase(),
    );
    if (!listed) return `${host} is not in UNIFOLD_UPSTREAM_ALLOWED_HOSTS`;
  }
  if (policy.allowPrivate) return undefined;
  if (host === "localhost" || host.endsWith(".localhost") || isNonPublicAddress(host)) {
    return `${host} is a loopback or private address; set UNIFOLD_ALLOW_PRIVATE_UPSTREAMS=true to allow it`;
  }
  return undefined;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A DNS lookup for sockets that refuses names resolving to non-public addresses, so a public
 * name pointed at 127.0.0.1 (or re-pointed after it was checked) cannot reach inside.
 */
export function guardedLookup(policy: NetworkPolicy, resolve: typeof dnsLookup = dnsLookup) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const list = addresses as LookupAddress[];
      const blocked = policy.allowPrivate ? undefined : list.find((a) => isNonPublicAddress(a.address));
      if (blocked) {
        const refused = Object.assign(new Error(`${hostname} resolves to ${blocked.address}, a loopback or private address`), {
          code: "EUNIFOLD_BLOCKED",
        });
        return callback(refused, []);
      }
      if (options.all) return callback(null, list);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), []);
      return callback(null, first.address, first.family);
    });
  };
}
