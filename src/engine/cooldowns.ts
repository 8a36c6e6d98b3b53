import { prisma } from "../db/client.js";
import { sha256 } from "./json.js";

/**
 * "Closed until T" per upstream, kept in the database so that every import
 * and every worker calling the same upstream with the same credential waits
 * a rate limit out, instead of each spending requests on more 429s.
 */
export function cooldownKey(origin: string, credential: string | undefined): string {
  return credential ? `${origin}#${sha256(credential).slice(0, 16)}` : origin;
}

/** A read of the table at most this often per key and process: the hot path is a map lookup. */
const CACHE_MS = 1000;
const cache = new Map<string, { until: number; readAt: number }>();

/** When the upstream opens again (epoch ms), or 0 when it is open. */
export async function closedUntil(key: string): Promise<number> {
  const now = Date.now();
  const cached = cache.get(key);
  if (cached && now - cached.readAt < CACHE_MS) return cached.until > now ? cached.until : 0;
  const row = await prisma().upstreamCooldown.findUnique({ where: { key } });
  const until = row?.until.getTime() ?? 0;
  cache.set(key, { until, readAt: now });
  return until > now ? until : 0;
}

/** Closes the upstream until `until`; a later closing already recorded wins. */
export async function closeUpstream(key: string, origin: string, until: Date, reason: string): Promise<void> {
  await prisma().$executeRaw`
    INSERT INTO "UpstreamCooldown" (key, origin, until, reason) VALUES (${key}, ${origin}, ${until}, ${reason})
    ON CONFLICT (key) DO UPDATE SET until = GREATEST("UpstreamCooldown".until, EXCLUDED.until), reason = EXCLUDED.reason`;
  cache.set(key, { until: Math.max(until.getTime(), cache.get(key)?.until ?? 0), readAt: Date.now() });
}

/** Opens the upstream now (an operator's "retry now"). */
export async function openUpstream(key: string): Promise<void> {
  await prisma().upstreamCooldown.deleteMany({ where: { key } });
  cache.delete(key);
}
