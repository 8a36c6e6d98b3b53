import { join } from "node:path";
import { StartupError, type Config } from "../config.js";
import { isDatabaseUnavailable } from "./availability.js";
import type { Logger } from "../logger.js";
import { startEmbeddedPostgres } from "./embedded.js";
import { applyMigrations, ensureDatabase } from "./migrate.js";

export interface Database {
  url: string;
  /** Stops the embedded server if this process started it. */
  close(): Promise<void>;
}

/**
 * Resolves the database (DATABASE_URL, or the embedded PostgreSQL under
 * MILEPOST_DATA_DIR/pg), creates it if missing and applies migrations.
 */
export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  let url = config.DATABASE_URL;
  let close = async () => undefined as void;
  if (!url) {
    const embedded = await startEmbeddedPostgres(join(config.MILEPOST_DATA_DIR, "pg"), config.EMBEDDED_PG_PORT, log);
    url = `${embedded.serverUrl}/milepost`;
    close = embedded.stop;
  }
  try {
    await migrateThroughOutages(url, log);
  } catch (error) {
    await close();
    throw error;
  }
  return { url, close };
}

/** Waits between tries of a start whose connection was lost; past the last, the start fails. */
const RETRY_MS = [500, 1000, 2000, 4000];

/**
 * Creates the database if needed and applies migrations, trying again when
 * the connection is lost or refused meanwhile: each migration is one
 * transaction, rolled back whole, or committed and found applied on the
 * next try. Fails in one line once the database stays away.
 */
async function migrateThroughOutages(url: string, log: Logger): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await ensureDatabase(url, log);
      await applyMigrations(url, log);
      return;
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      const where = new URL(url).host;
      const reason = (error as Error).message.split("\n")[0];
      if (attempt === RETRY_MS.length) throw new StartupError(`the database at ${where} was lost while migrating and did not come back (${reason}); check that it runs and accepts connections`);
      log.warn({ database: where, reason, retryInMs: RETRY_MS[attempt] }, "the database connection was lost while migrating; trying again");
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS[attempt]));
    }
  }
}
