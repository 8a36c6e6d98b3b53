import { createHash, randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { Role } from "../generated/prisma/enums.js";
import { noticeRevoked } from "../engine/events.js";
import { isDatabaseUnavailable } from "../db/availability.js";
import { prisma } from "../db/client.js";
import type { Logger } from "../logger.js";

export type { Role };

/** Who a request acts as. `tokenId` is null when auth is off. */
export interface Viewer {
  tokenId: number | null;
  name: string;
  role: Role;
}

const RANK: Record<Role, number> = { VIEWER: 0, OPERATOR: 1, ADMIN: 2 };

export function hasRole(viewer: Viewer, needed: Role): boolean {
  return RANK[viewer.role] >= RANK[needed];
}

export function hashToken(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** A new secret: 32 random bytes, prefixed so it is recognisable in a leak scan. */
export function generateToken(): string {
  return `mp_${randomBytes(32).toString("base64url")}`;
}

/** Reads the secret from `Bearer <token>` (or a bare token, as graphql-ws clients send it). */
export function secretFrom(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const secret = value.replace(/^Bearer\s+/i, "").trim();
  return secret || undefined;
}

/** lastUsedAt is a hint, not an audit log: written at most once a minute per token. */
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * While the database is away no token can be checked, nor revoked: a token
 * that passed the check within this long is let in meanwhile, so `health`
 * and clients' retries get an answer instead of a failed login.
 */
const OUTAGE_GRACE_MS = 15 * 60_000;
const lastPassed = new Map<string, { viewer: Viewer; at: number }>();

/** The viewer a secret stands for, or null when it is unknown or revoked. Checked against the database every time it can be. */
export async function authenticate(secret: string): Promise<Viewer | null> {
  const tokenHash = hashToken(secret);
  let token;
  try {
    token = await prisma().apiToken.findUnique({ where: { tokenHash } });
  } catch (error) {
    const passed = lastPassed.get(tokenHash);
    if (isDatabaseUnavailable(error) && passed && Date.now() - passed.at < OUTAGE_GRACE_MS) return passed.viewer;
    throw error;
  }
  if (!token || token.revokedAt) {
    lastPassed.delete(tokenHash);
    return null;
  }
  const viewer: Viewer = { tokenId: token.id, name: token.name, role: token.role };
  lastPassed.set(tokenHash, { viewer, at: Date.now() });
  if (!token.lastUsedAt || Date.now() - token.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    await prisma().apiToken.update({ where: { id: token.id }, data: { lastUsedAt: new Date() } });
  }
  return viewer;
}

/** Forgets a revoked token's last check (a revocation reaches every api process through the event bridge). */
export function forgetToken(tokenId: number): void {
  for (const [hash, passed] of lastPassed) if (passed.viewer.tokenId === tokenId) lastPassed.delete(hash);
}

/** Which of these tokens are revoked. */
export async function revokedAmong(ids: number[]): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows = await prisma().apiToken.findMany({ where: { id: { in: ids }, revokedAt: { not: null } }, select: { id: true } });
  return rows.map((row) => row.id);
}

/**
 * Revokes a token at once, for HTTP and WebSocket operations alike; every
 * api process is told when it commits, and ends the token's subscriptions.
 */
export async function revokeToken(id: number) {
  return prisma().$transaction(async (tx) => {
    const token = await tx.apiToken.findUnique({ where: { id } });
    if (!token) return null;
    const revoked = await tx.apiToken.update({ where: { id }, data: { revokedAt: token.revokedAt ?? new Date() } });
    await noticeRevoked(tx, id);
    return revoked;
  });
}

/** Creates a token and returns it with its secret (shown once; only the hash is kept). */
export async function createToken(name: string, role: Role) {
  const token = generateToken();
  const apiToken = await prisma().apiToken.create({ data: { name, role, tokenHash: hashToken(token) } });
  return { apiToken, token };
}

/** Serialises first-start token creation between processes starting together. */
const SEED_LOCK = 72707370;

/**
 * Makes sure an ADMIN can get in: MILEPOST_ADMIN_TOKEN is registered as an
 * ADMIN token; without it, and with no token at all yet (a first start), an
 * ADMIN token is generated, saved to `<dataDir>/admin-token` (mode 0600) and
 * printed once.
 */
export async function ensureAdminToken(options: { adminToken?: string; dataDir: string }, log: Logger): Promise<void> {
  await prisma().$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${SEED_LOCK})`;
    if (options.adminToken) {
      const tokenHash = hashToken(options.adminToken);
      await tx.apiToken.upsert({
        where: { tokenHash },
        create: { name: "MILEPOST_ADMIN_TOKEN", role: "ADMIN", tokenHash },
        update: {},
      });
      return;
    }
    if ((await tx.apiToken.count()) > 0) return;
    const token = generateToken();
    await tx.apiToken.create({ data: { name: "first-start admin", role: "ADMIN", tokenHash: hashToken(token) } });
    const file = resolve(options.dataDir, "admin-token");
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `${token}\n`, { mode: 0o600 });
    log.info({ savedTo: file }, "generated the first ADMIN token");
    process.stdout.write(
      `\n  Admin token (shown once, saved to ${file}):\n  ${token}\n  Send it as "Authorization: Bearer <token>"; create more with createApiToken.\n\n`,
    );
  });
}
