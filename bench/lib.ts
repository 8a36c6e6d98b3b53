// What the benchmarks share: a scratch database, processes to wait for, and their arithmetic.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import pg from "pg";

export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const server = (process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres").replace(/\/[^/]*$/, "");

/** A new database's URL on the benchmark server (created by the service that first connects to it). */
export function scratchDatabase(prefix: string): { url: string; drop(): Promise<void> } {
  const database = `${prefix}_${Date.now()}`;
  return {
    url: `${server}/${database}`,
    async drop() {
      const admin = new pg.Client({ connectionString: `${server}/postgres` });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** Starts `node --import tsx <args>` and resolves once a line of its stdout satisfies `ready`. */
export async function spawnReady(args: string[], env: Record<string, string>, ready: (line: string) => boolean): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", ...args], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => ready(line) && resolve());
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}`)));
  });
  return child;
}

/** A Milepost worker process on this database, once it has started. */
export function spawnWorker(url: string, env: Record<string, string>): Promise<ChildProcess> {
  return spawnReady(["src/server.ts"], { DATABASE_URL: url, MILEPOST_ROLE: "worker", LOG_LEVEL: "info", ...env }, (line) => line.includes('"msg":"milepost started"'));
}

export const stopAll = (children: ChildProcess[]) => Promise.all(children.map((child) => new Promise((resolve) => (child.once("exit", resolve), child.kill("SIGTERM")))));

/** Waits until `query` (yielding `count`) reaches `expected`, polling every `everyMs`. */
export async function until(db: pg.Client, query: string, expected: number, everyMs = 20): Promise<void> {
  for (;;) {
    const { rows } = await db.query<{ count: number }>(query);
    if (rows[0].count >= expected) return;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export const perSecond = (items: number, ms: number) => Math.round((items / ms) * 1000);
export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
export const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
