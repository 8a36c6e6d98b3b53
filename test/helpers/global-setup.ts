import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { pino } from "pino";
import { startEmbeddedPostgres } from "../../src/db/embedded.js";
import { applyMigrations } from "../../src/db/migrate.js";
import { startBoss } from "../../src/jobs/boss.js";
import { adminQuery, serverUrlOf } from "./postgres.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgServerUrl: string;
    templateDatabase: string;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Migrates a template database once; every test file clones it
 * (CREATE DATABASE … TEMPLATE), so files are isolated and start in
 * milliseconds. The server is DATABASE_URL's, or an embedded PostgreSQL
 * in a temporary directory when it is unset.
 */
export default async function setup(project: TestProject) {
  const log = pino({ level: "warn" });
  let stopEmbedded = async () => undefined as void;
  let dataDir: string | undefined;
  let serverUrl: string;
  if (process.env.DATABASE_URL) {
    serverUrl = serverUrlOf(process.env.DATABASE_URL);
  } else {
    dataDir = await mkdtemp(join(tmpdir(), "milepost-test-pg-"));
    await chmod(dataDir, 0o755); // as root, PostgreSQL runs as `postgres`, which must reach pg/ inside
    const embedded = await startEmbeddedPostgres(join(dataDir, "pg"), await freePort(), log);
    serverUrl = embedded.serverUrl;
    stopEmbedded = embedded.stop;
  }
  const template = `milepost_template_${process.pid}`;
  await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${template}`, `CREATE DATABASE ${template}`);
  const templateUrl = `${serverUrl}/${template}`;
  await applyMigrations(templateUrl, log);
  // pg-boss creates its schema on first start; doing it once here saves it in every clone.
  const boss = await startBoss(templateUrl, { runsWork: false }, log);
  await boss.stop({ graceful: false, wait: true });

  project.provide("pgServerUrl", serverUrl);
  project.provide("templateDatabase", template);
  // What the tests start (npm start, workers, the CLI) keeps its data (the first start's admin token) here,
  // never in the user's .data: test files are forked after this, and inherit it.
  const scratchData = await mkdtemp(join(tmpdir(), "milepost-test-data-"));
  process.env.MILEPOST_DATA_DIR = scratchData;

  return async () => {
    await rm(scratchData, { recursive: true, force: true });
    await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await stopEmbedded();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };
}
