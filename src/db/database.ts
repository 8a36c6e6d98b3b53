import { join } from "node:path";
import type { Config } from "../config.js";
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
    await ensureDatabase(url, log);
    await applyMigrations(url, log);
  } catch (error) {
    await close();
    throw error;
  }
  return { url, close };
}
