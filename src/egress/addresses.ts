import { isIPv4, isIPv6 } from "node:net";

/** An IP address as a number, with its family's width. */
export interface Address {
  bits: 32 | 128;
  value: bigint;
}

/** Parses an IPv4 or IPv6 address as written by DNS or a URL (a zone such as `%eth0` is dropped); null when it is neither. */
export function parseAddress(text: string): Address | null {
  const address = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (isIPv4(address)) return { bits: 32, value: ipv4Value(address) };
  if (!isIPv6(address)) return null;
  let [head, tail = null] = address.split("::") as [string, string | null];
  const groups = (part: string | null) => (part ? part.split(":").flatMap((group) => (isIPv4(group) ? ipv4Groups(group) : [group])) : []);
  const left = groups(head);
  const right = address.includes("::") ? groups(tail) : [];
  const middle = address.includes("::") ? Array(8 - left.length - right.length).fill("0") : [];
  const all = [...left, ...middle, ...right];
  return { bits: 128, value: all.reduce((value, group) => (value << 16n) | BigInt(parseInt(group, 16)), 0n) };
}

function ipv4Value(address: string): bigint {
  return address.split(".").reduce((value, octet) => (value << 8n) | BigInt(Number(octet)), 0n);
}

function ipv4Groups(address: string): string[] {
  const value = ipv4Value(address);
  return [(value >> 16n).toString(16), (value & 0xffffn).toString(16)];
}

/** A network: an address and how many leading bits of it count. */
export interface Network {
  address: Address;
  prefix: number;
}

/** Parses `address/prefix`; null when it is not one. */
export function parseNetwork(text: string): Network | null {
  const [address, prefix, extra] = text.split("/");
  const parsed = parseAddress(address);
  if (!parsed || extra !== undefined || !/^\d{1,3}$/.test(prefix ?? "")) return null;
  const bits = Number(prefix);
  return bits <= parsed.bits ? { address: parsed, prefix: bits } : null;
}

export function inNetwork(address: Address, network: Network): boolean {
  if (address.bits !== network.address.bits) {
    const inner = embeddedIPv4(address);
    return inner !== null && inNetwork(inner, network);
  }
  const shift = BigInt(address.bits - network.prefix);
  return address.value >> shift === network.address.value >> shift;
}

const net = (text: string): Network => parseNetwork(text)!;

/** IPv6 ranges whose last 32 bits are an IPv4 address a packet may end up at: mapped, compatible, NAT64. */
const EMBEDDING = [net("::ffff:0:0/96"), net("::/96"), net("64:ff9b::/96")];
/** 6to4 carries its IPv4 address in bits 16 to 48. */
const SIX_TO_FOUR = net("2002::/16");

/** The IPv4 address an IPv6 one stands for (IPv4-mapped, IPv4-compatible, NAT64, 6to4), or null. */
export function embeddedIPv4(address: Address): Address | null {
  if (address.bits !== 128) return null;
  if (EMBEDDING.some((range) => inNetwork(address, range))) {
    const value = address.value & 0xffffffffn;
    // ::, ::1 are IPv6's own unspecified and loopback addresses, not IPv4 ones.
    return address.value < 0x10000n ? null : { bits: 32, value };
  }
  if (inNetwork(address, SIX_TO_FOUR)) return { bits: 32, value: (address.value >> 80n) & 0xffffffffn };
  return null;
}

/**
 * The address classes work may not reach unless an entry allows them, each
 * with its name as said in an error (IANA's special-purpose registries).
 */
const SPECIAL: [Network, string][] = [
  [net("0.0.0.0/8"), "an unspecified (this-network)"],
  [net("10.0.0.0/8"), "a private"],
  [net("100.64.0.0/10"), "a shared (carrier-grade NAT)"],
  [net("127.0.0.0/8"), "a loopback"],
  [net("169.254.0.0/16"), "a link-local"],
  [net("172.16.0.0/12"), "a private"],
  [net("192.0.0.0/24"), "an IETF protocol"],
  [net("192.168.0.0/16"), "a private"],
  [net("198.18.0.0/15"), "a benchmarking"],
  [net("224.0.0.0/4"), "a multicast"],
  [net("240.0.0.0/4"), "a reserved (or broadcast)"],
  [net("::/128"), "an unspecified"],
  [net("::1/128"), "a loopback"],
  [net("100::/64"), "a discard-only"],
  [net("64:ff9b:1::/48"), "a local-use NAT64"],
  [net("fc00::/7"), "a unique-local"],
  [net("fe80::/10"), "a link-local"],
  [net("fec0::/10"), "a site-local"],
  [net("ff00::/8"), "a multicast"],
];

/** The class of a non-public address ("a loopback", "a private", …), or null for a public one. */
export function addressClass(address: Address): string | null {
  const inner = embeddedIPv4(address);
  for (const [network, name] of SPECIAL) {
    if (address.bits === network.address.bits && inNetwork(address, network)) return name;
    if (inner && inNetwork(inner, network)) return name;
  }
  return null;
}

/** Whether the address is a loopback one (IPv4, IPv6, or IPv4 in IPv6). */
export function isLoopback(address: Address): boolean {
  return addressClass(address) === "a loopback";
}

/** Whether a Host or Origin names a loopback address or localhost. */
export function isLoopbackHost(host: string): boolean {
  // "[::1]:4000", "[::1]", "::1" (a bare IPv6 address has no port), "127.0.0.1:4000", "localhost".
  const bracketed = /^\[([^\]]+)\]/.exec(host);
  const name = (bracketed ? bracketed[1] : host.split(":").length > 2 ? host : host.replace(/:\d+$/, "")).toLowerCase();
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  const address = parseAddress(name);
  return address !== null && isLoopback(address);
}
