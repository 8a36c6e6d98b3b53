import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import { buildConnector } from "undici";
import { egressPolicy, egressRefusal, hostKey, type EgressPolicy } from "../egress/policy.js";

/** A connection work may not make; the HTTP client turns it into a permanent failure. */
export class EgressRefusedError extends Error {
  override name = "EgressRefusedError";
}

/** What a name resolves to: every address, as dns.lookup gives them. */
export type Lookup = (name: string) => Promise<{ address: string }[]>;

const systemLookup: Lookup = (name) => dnsLookup(name, { all: true, verbatim: true });

/**
 * An undici connector that judges the address it actually connects to: the
 * name is resolved here, each address is checked against the egress policy,
 * and the socket is opened to the first allowed one by address, so a name
 * whose answer changes between a check and the connect (DNS rebinding)
 * cannot slip through. TLS still verifies the certificate for the name.
 */
export function egressConnector(options: { timeoutMs: number; lookup?: Lookup; policy?: () => EgressPolicy; allowDemo?: boolean }): buildConnector.connector {
  const base = buildConnector({ timeout: options.timeoutMs });
  const resolve = options.lookup ?? systemLookup;
  const policyOf = options.policy ?? egressPolicy;
  return (target, callback) => {
    const host = hostKey(target.hostname);
    const port = Number(target.port) || (target.protocol === "https:" ? 443 : 80);
    const addresses = isIP(host) ? Promise.resolve([{ address: host }]) : resolve(host);
    addresses.then(
      (answers) => {
        const policy = policyOf();
        const demo = options.allowDemo ? policy.demo() : null;
        const demoHost = demo ? new URL(demo.origin) : null;
        let refusal: string | null = null;
        for (const { address } of answers) {
          const isDemo = demoHost !== null && hostKey(demoHost.hostname) === host && (Number(demoHost.port) || 80) === port;
          refusal = isDemo ? null : egressRefusal(policy, { host, address, port });
          if (refusal === null) {
            base({ ...target, hostname: address, servername: target.servername ?? (isIP(host) ? undefined : host) }, callback);
            return;
          }
        }
        callback(new EgressRefusedError(refusal ?? `${host} resolves to no address`), null);
      },
      (error: Error) => callback(error, null),
    );
  };
}
