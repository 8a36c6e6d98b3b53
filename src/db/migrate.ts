import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { newClient } from "./pg-client.js";
import type { Logger } from "../logger.js";

const MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/migrations/", import.meta.url));
/** The advisory lock key `prisma migrate deploy` takes, so the two never run at once. */
const PRISMA_MIGRATE_LOCK = 72707369;

/**
 * Applies prisma/migrations at start without the Prisma CLI, whose schema
 * engine cannot be downloaded on many machines. It keeps `_prisma_migrations`
 * exactly as Prisma does (same columns, SHA-256 checksums), so `prisma
 * migrate deploy` and `migrate status` stay usable where the CLI works. Each
 * migration runs in its own transaction; concurrent starters wait on the lock.
 */
export async function applyMigrations(databaseUrl: string, log: Logger, directory: string = MIGRATIONS_DIR): Promise<string[]> {
  const client = newClient({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [PRISMA_MIGRATE_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
    const done = await client.query<{ migration_name: string; checksum: string }>(
      `SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    );
    const applied = new Map(done.rows.map((row) => [row.migration_name, row.checksum]));
    const names = (await readdir(directory, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    const ran: string[] = [];
    for (const name of names) {
      const sql = await readFile(join(directory, name, "migration.sql"), "utf8");
      const checksum = createHash("sha256").update(sql).digest("hex");
      const appliedChecksum = applied.get(name);
      if (appliedChecksum !== undefined) {
        if (appliedChecksum !== checksum) {
          log.warn({ migration: name }, "an applied migration was edited since; its new text is ignored (add a new migration instead)");
        }
        continue;
      }
      const id = randomUUID();
      await client.query("BEGIN");
      try {
        await client.query(`INSERT INTO "_prisma_migrations" (id, checksum, migration_name) VALUES ($1, $2, $3)`, [id, checksum, name]);
        await client.query(sql);
        await client.query(`UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1`, [id]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined); // a lost connection rolled it back already
        throw new Error(`Migration ${name} failed: ${(error as Error).message}`, { cause: error });
      }
      log.info({ migration: name }, "migration applied");
      ran.push(name);
    }
    return ran;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [PRISMA_MIGRATE_LOCK]).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

/** Creates the URL's database when it does not exist yet (a first start). */
export async function ensureDatabase(databaseUrl: string, log: Logger): Promise<void> {
  const probe = newClient({ connectionString: databaseUrl });
  try {
    await probe.connect();
    return;
  } catch (error) {
    if ((error as { code?: string }).code !== "3D000") throw error; // 3D000: database does not exist
  } finally {
    await probe.end().catch(() => undefined);
  }
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = "/postgres";
  const admin = newClient({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`).catch((error: { code?: string }) => {
      if (error.code !== "42P04") throw error; // 42P04: created meanwhile by another process
    });
    log.info({ database: name }, "database created");
  } finally {
    await admin.end().catch(() => undefined);
  }
}
