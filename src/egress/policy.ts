import { isIP } from "node:net";
import { addressClass, inNetwork, isLoopback, parseAddress, parseNetwork, type Address, type Network } from "./addresses.js";

/** One MILEPOST_EGRESS entry: a host (a name or an address) with an optional port, or a network. */
export type EgressEntry = { host: string; port: number | null } | { network: Network; text: string };

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/;

/** Parses one entry: `host`, `host:port`, `[v6]:port`, a bare IPv6 address, or a CIDR network; null when it is none of these. */
export function parseEgressEntry(text: string): EgressEntry | null {
  const entry = text.trim();
  if (entry.includes("/")) {
    const network = parseNetwork(entry);
    return network ? { network, text: entry } : null;
  }
  if (isIP(entry) === 6) return { host: hostKey(entry), port: null };
  const match = HOST_PORT.exec(entry);
  if (!match) return null;
  const port = match[2] === undefined ? null : Number(match[2]);
  if (port !== null && (port < 1 || port > 65535)) return null;
  return { host: hostKey(match[1]), port };
}

/** A host as entries and URLs are compared: lower case, an address in its canonical spelling (so 2130706433 and 127.0.0.1 are one). */
export function hostKey(host: string): string {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (isIP(bare) === 6) return new URL(`http://[${bare}]/`).hostname.replace(/^\[|\]$/g, "");
  try {
    return new URL(`http://${bare}/`).hostname;
  } catch {
    return bare;
  }
}

export interface EgressPolicy {
  entries: readonly EgressEntry[];
  /** Endpoints no entry opens: the database's own host and port. */
  forbidden: readonly { host: string; port: number }[];
  /** Where the demo upstream this service serves is (origin and path), allowed without an entry; null when it is off. */
  demo(): { origin: string; path: string } | null;
}

/** One connection's target: the host as the URL names it, the address it resolved to, the port. */
export interface Target {
  host: string;
  address: string;
  port: number;
}

/** How an entry that allows the target is written: what an error tells the operator to add. */
export function suggestedEntry(target: Pick<Target, "host" | "port">): string {
  return `${isIP(target.host) === 6 ? `[${target.host}]` : target.host}:${target.port}`;
}

function forbiddenHit(policy: EgressPolicy, target: Target, address: Address): boolean {
  return policy.forbidden.some((endpoint) => {
    if (endpoint.port !== target.port) return false;
    const forbidden = parseAddress(endpoint.host);
    // A database on a loopback address answers on every loopback spelling (127.0.0.2, ::1, ::ffff:127.0.0.1).
    if (forbidden && isLoopback(forbidden)) return isLoopback(address);
    if (forbidden) return forbidden.bits === address.bits ? forbidden.value === address.value : false;
    return hostKey(endpoint.host) === target.host || (endpoint.host === "localhost" && isLoopback(address));
  });
}

function allowedByEntry(policy: EgressPolicy, target: Target, address: Address): boolean {
  const host = hostKey(target.host);
  const canonical = hostKey(target.address);
  return policy.entries.some((entry) => {
    if ("network" in entry) return inNetwork(address, entry.network);
    return (entry.host === host || entry.host === canonical) && (entry.port === null || entry.port === target.port);
  });
}

/**
 * Why work may not connect to a target, said so an operator can act on it;
 * null when it may. Public addresses may be reached; any other class only
 * when a MILEPOST_EGRESS entry allows it; the database's own endpoint never.
 */
export function egressRefusal(policy: EgressPolicy, target: Target): string | null {
  const address = parseAddress(target.address);
  if (!address) return `${target.address} is not an IP address`;
  const where = suggestedEntry(target);
  if (forbiddenHit(policy, target, address)) return `${where} is the database's own address: no work may reach it, whatever MILEPOST_EGRESS says`;
  const kind = addressClass(address);
  if (!kind || allowedByEntry(policy, target, address)) return null;
  const resolved = hostKey(target.host) === hostKey(target.address) ? "" : ` (${target.host} resolves to it)`;
  return `${target.address} is ${kind} address${resolved}: work reaches only public addresses unless MILEPOST_EGRESS allows more; add "${where}" to MILEPOST_EGRESS on every process to allow it`;
}

/** Whether a URL is under the demo upstream this service serves (its own origin, under /demo/). */
export function isDemoUrl(policy: EgressPolicy, url: URL): boolean {
  const demo = policy.demo();
  return demo !== null && url.origin === demo.origin && url.pathname.startsWith(demo.path);
}

/** Names every resolver answers with a loopback address (RFC 6761), so they are judged before any DNS. */
const LOOPBACK_NAME = /^(localhost|.*\.localhost)$/;

/**
 * What can be said about a URL before any DNS: its credentials, and its
 * host when that is an address or a loopback name. Null when nothing is
 * wrong yet (a name is judged again on the address it resolves to at
 * connect time).
 */
export function urlRefusal(policy: EgressPolicy, url: URL): string | null {
  // Said without the password, which must not come back in an error.
  if (url.username || url.password) return "a URL may not hold a user name or password: put credentials in a header with a secret reference ({\"$env\": NAME})";
  if (isDemoUrl(policy, url)) return null;
  const host = hostKey(url.hostname);
  const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80);
  const address = isIP(host) ? host : LOOPBACK_NAME.test(host) ? "127.0.0.1" : null;
  return address === null ? null : egressRefusal(policy, { host, address, port });
}

let configured: EgressPolicy = { entries: [], forbidden: [], demo: () => null };

/** Sets the process's egress policy (MILEPOST_EGRESS, the database, the demo), once at start. */
export function configureEgress(policy: EgressPolicy): void {
  configured = policy;
}

/** The process's egress policy: until configured, public addresses only. */
export function egressPolicy(): EgressPolicy {
  return configured;
}
