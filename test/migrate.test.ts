import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { applyMigrations, ensureDatabase } from "../src/db/migrate.js";
import { spawnCommand } from "./helpers/process.js";
import { adminQuery } from "./helpers/postgres.js";

const server = inject("pgServerUrl");
const created: string[] = [];
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "milepost-migrations-"));
});
afterAll(async () => {
  for (const name of created) await adminQuery(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await rm(scratch, { recursive: true, force: true });
});

/** A database name that does not exist yet, dropped after the file. */
function freshName(): string {
  const name = `milepost_migrate_${randomBytes(4).toString("hex")}`;
  created.push(name);
  return name;
}

/** A logger whose lines the test can read. */
function capturedLog() {
  const lines: string[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
  return { log, lines };
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function migrationsDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(scratch, "set-"));
  for (const [name, sql] of Object.entries(files)) {
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, "migration.sql"), sql);
  }
  return dir;
}

describe("the migration runner", () => {
  it("creates a missing database, applies every migration once, and nothing on the next start", async () => {
    const url = `${server}/${freshName()}`;
    const { log } = capturedLog();
    await ensureDatabase(url, log);
    const first = await applyMigrations(url, log);
    expect(first.length).toBeGreaterThanOrEqual(4);
    expect(await applyMigrations(url, log)).toEqual([]);
    const rows = await query<{ migration_name: string; checksum: string }>(url, `SELECT migration_name, checksum FROM "_prisma_migrations" ORDER BY migration_name`);
    expect(rows.map((row) => row.migration_name)).toEqual(first);
    expect(rows.every((row) => /^[0-9a-f]{64}$/.test(row.checksum))).toBe(true);
  });

  it("reports an applied migration whose file was edited since, and does not run it again", async () => {
    const url = `${server}/${freshName()}`;
    const { log, lines } = capturedLog();
    await ensureDatabase(url, log);
    const dir = await migrationsDir({ "20260101000000_one": `CREATE TABLE one (id int);` });
    await applyMigrations(url, log, dir);
    await writeFile(join(dir, "20260101000000_one", "migration.sql"), `CREATE TABLE one (id int, more int);`);
    expect(await applyMigrations(url, log, dir)).toEqual([]);
    expect(lines.join("\n")).toMatch(/"migration":"20260101000000_one".*was edited since/);
  });

  it("rolls a failing migration back whole and says which one failed", async () => {
    const url = `${server}/${freshName()}`;
    const { log } = capturedLog();
    await ensureDatabase(url, log);
    const dir = await migrationsDir({ "20260101000000_good": `CREATE TABLE good (id int);`, "20260102000000_bad": `CREATE TABLE half (id int); SELECT 1/0;` });
    await expect(applyMigrations(url, log, dir)).rejects.toThrow(/Migration 20260102000000_bad failed: division by zero/);
    const tables = await query<{ name: string }>(url, `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`);
    expect(tables.map((table) => table.name)).toEqual(["_prisma_migrations", "good"]);
    const applied = await query<{ migration_name: string }>(url, `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL`);
    expect(applied.map((row) => row.migration_name)).toEqual(["20260101000000_good"]);
  });

  it("lets two processes that start together take the lock in turn: each migration runs once", async () => {
    const url = `${server}/${freshName()}`;
    const { log } = capturedLog();
    await ensureDatabase(url, log);
    const dir = await migrationsDir({ "20260101000000_slow": `SELECT pg_sleep(0.5); CREATE TABLE slow (id int);` });
    const [a, b] = await Promise.all([applyMigrations(url, log, dir), applyMigrations(url, log, dir)]);
    expect([...a, ...b]).toEqual(["20260101000000_slow"]);
    const rows = await query<{ count: string }>(url, `SELECT count(*) FROM "_prisma_migrations"`);
    expect(Number(rows[0].count)).toBe(1);
  });

  it("runs as `npm run db:migrate`", async () => {
    const url = `${server}/${freshName()}`;
    const run = await spawnCommand([process.platform === "win32" ? "npm.cmd" : "npm", "run", "--silent", "db:migrate"], { DATABASE_URL: url }, null);
    expect((await run.exited).code).toBe(0);
    expect(run.output()).toContain("migrations are up to date");
    const tables = await query<{ name: string }>(url, `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'`);
    expect(tables.map((table) => table.name)).toEqual(expect.arrayContaining(["Import", "Event", "ApiToken"]));
  });
});

