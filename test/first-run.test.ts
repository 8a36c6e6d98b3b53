import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cloneDatabase } from "./helpers/database.js";
import { spawnCommand, spawnService } from "./helpers/process.js";
import { postGraphQL } from "./helpers/server.js";

const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The pid the service logged in its "milepost started" line. */
function servicePid(output: string): number {
  const line = output.split("\n").find((entry) => entry.includes('"msg":"milepost started"'));
  return (JSON.parse(line!) as { pid: number }).pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("npm start", () => {
  let database: Awaited<ReturnType<typeof cloneDatabase>>;
  beforeAll(async () => {
    database = await cloneDatabase();
  });
  afterAll(() => database.drop());

  it("stops gracefully when npm itself gets SIGTERM: no server is left behind", async () => {
    const started = await spawnCommand([NPM, "start", "--silent"], { DATABASE_URL: database.url, PORT: "0" }, "milepost started");
    const server = servicePid(started.output());
    expect(server).not.toBe(started.child.pid); // npm runs the service as its child…
    const exit = await started.stop("SIGTERM"); // …and passes the signal on, with nothing in between
    expect(exit.code).toBe(0);
    await expect.poll(() => alive(server), { timeout: 10_000 }).toBe(false);
    expect(started.output()).toContain('"msg":"milepost stopped"');
  });

  it("says which port is taken and stops before touching the database", async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as { port: number }).port)));
    try {
      const second = await spawnCommand([process.execPath, "--import", "tsx", "src/server.ts"], { DATABASE_URL: database.url, PORT: String(port) }, null);
      const exit = await second.exited;
      expect(exit.code).toBe(1);
      expect(second.output()).toContain(`milepost could not start: port ${port} is in use; set PORT`);
      expect(second.output()).not.toMatch(/\n\s+at /); // no stack trace
      expect(second.output()).not.toContain("migration");
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe("without DATABASE_URL: the embedded PostgreSQL", () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "milepost-embedded-"));
    await chmod(dataDir, 0o755); // as root, PostgreSQL runs as `postgres`, which must enter it
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it("starts one, lets a second process join it, and on Ctrl+C hands over and stops it last", async () => {
    const env = { DATABASE_URL: "", MILEPOST_DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), PORT: "0" };
    // Detached: its own process group, as a terminal runs a job, so the test can press Ctrl+C on it.
    const first = await spawnCommand([NPM, "start", "--silent"], env, "milepost started", { detached: true, timeoutMs: 90_000 });
    expect(first.output()).toContain("embedded PostgreSQL started");
    const token = (await readFile(join(dataDir, "admin-token"), "utf8")).trim();
    const second = await spawnService({ ...env, MILEPOST_ROLE: "worker" });
    expect(second.output()).toContain("embedded PostgreSQL already running; joining it");
    const url = /"url":"([^"]+)"/.exec(first.output())![1];
    const health = await postGraphQL<{ health: { database: boolean; workers: number } }>(url, { query: "{ health { database workers } }" }, token);
    expect(health.data?.health).toEqual({ database: true, workers: 2 });

    expect((await second.stop()).code).toBe(0);
    process.kill(-first.child.pid!, "SIGINT"); // what Ctrl+C does: the whole foreground group
    const exit = await first.exited;
    expect(exit.code).toBe(0);
    expect(first.output()).toContain('"msg":"milepost stopped"');
    expect(first.output()).not.toMatch(/"level":(50|60)/);
    const postmaster = Number((await readFile(join(dataDir, "pg", "postmaster.pid"), "utf8").catch(() => "0")).split("\n")[0]);
    expect(postmaster === 0 || !alive(postmaster)).toBe(true);
  }, 120_000);

  it.skipIf(process.getuid?.() !== 0)("as root, says so when the user postgres cannot reach the data directory", async () => {
    const closed = await mkdtemp(join(tmpdir(), "milepost-closed-")); // mode 0700, like /root
    try {
      const run = await spawnCommand([process.execPath, "--import", "tsx", "src/server.ts"], { DATABASE_URL: "", MILEPOST_DATA_DIR: join(closed, "data"), EMBEDDED_PG_PORT: String(await freePort()), PORT: "0" }, null);
      expect((await run.exited).code).toBe(1);
      expect(run.output()).toContain(`cannot enter ${closed}`);
      expect(run.output()).toContain("Set MILEPOST_DATA_DIR");
    } finally {
      await rm(closed, { recursive: true, force: true });
    }
  });
});
