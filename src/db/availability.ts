import { newClient } from "./pg-client.js";
import type { Logger } from "../logger.js";

/**
 * Whether the database is reachable, as this process last saw it. Every
 * part that talks to PostgreSQL reports its failures here; an error that
 * means "the database is away" (refused, reset, shut down, unreachable)
 * marks it down and starts a probe with backoff, and the parts wait for it
 * instead of failing their work, logging, or spinning. Only the first
 * failure of an outage and the recovery are logged.
 */

/** Node's and libpq's words for a connection that cannot be made or was lost. */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ECONNABORTED"]);
/**
 * SQLSTATE classes 08 (connection exception) and 57P (operator intervention:
 * shutdown, crash, starting up), 53300 (too many connections) and 55000
 * (the database does not accept connections: ALLOW_CONNECTIONS false, or
 * being dropped; Milepost's own statements raise it for nothing else).
 */
const SQLSTATE = /^(08...|57P0[1-4]|53300|55000)$/;
/** Prisma's codes for an unreachable or vanished server, and its driver adapter's kinds for the same. */
const PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);
const ADAPTER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections", "DatabaseDoesNotExist"]);
const MESSAGES = /Connection terminated|connection error and is not queryable|timeout exceeded when trying to connect|Can't reach database server|Server has closed the connection|the database system is (starting up|shutting down|in recovery mode)/i;

type Inspectable = {
  code?: unknown;
  kind?: unknown;
  originalCode?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
  meta?: { driverAdapterError?: { cause?: unknown } };
  originalError?: unknown;
};

/** Whether an error (or anything it wraps) says the database is unreachable rather than that a statement was wrong. */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== "object" || depth > 6) return false;
  const inspected = error as Inspectable;
  const code = typeof inspected.code === "string" ? inspected.code : typeof inspected.originalCode === "string" ? inspected.originalCode : "";
  if (NETWORK_CODES.has(code) || SQLSTATE.test(code) || PRISMA_CODES.has(code)) return true;
  if (typeof inspected.kind === "string" && ADAPTER_KINDS.has(inspected.kind)) return true;
  if (typeof inspected.message === "string" && MESSAGES.test(inspected.message)) return true;
  const wrapped = [inspected.cause, inspected.meta?.driverAdapterError?.cause, inspected.originalError, ...(Array.isArray(inspected.errors) ? inspected.errors : [])];
  return wrapped.some((inner) => isDatabaseUnavailable(inner, depth + 1));
}

/** Backoff of the probe while the database is away: quick at first, then every 3 s (a cheap connect, so a return is noticed soon). */
const PROBE_DELAYS_MS = [250, 500, 1000, 2000, 3000];

interface State {
  url: string;
  log: Logger;
  up: boolean;
  upSince: number;
  downSince: number;
  probing: boolean;
  waiters: Set<() => void>;
  listeners: ((up: boolean) => void)[];
  stopped: boolean;
  timer?: NodeJS.Timeout;
}

let state: State | undefined;

/** Starts watching the database at `url` (once per process, at start); it is taken as up. */
export function watchDatabase(url: string, log: Logger): void {
  state = { url, log, up: true, upSince: Date.now(), downSince: 0, probing: false, waiters: new Set(), listeners: [], stopped: false };
}

/** Stops probing (at shutdown) and releases every waiter. */
export function stopWatchingDatabase(): void {
  if (!state) return;
  state.stopped = true;
  clearTimeout(state.timer);
  for (const wake of state.waiters) wake();
  state = undefined;
}

export function databaseUp(): boolean {
  return state?.up ?? true;
}

/** Since when the database has been reachable without a break (epoch ms). */
export function databaseUpSince(): number {
  if (!state) return 0;
  return state.up ? state.upSince : Number.POSITIVE_INFINITY;
}

/** Called with `false` when an outage starts and `true` when it ends. */
export function onDatabaseChange(listener: (up: boolean) => void): void {
  state?.listeners.push(listener);
}

async function probe(url: string): Promise<boolean> {
  const client = newClient({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function scheduleProbe(current: State, attempt: number): void {
  current.timer = setTimeout(async () => {
    if (current.stopped) return;
    if (!(await probe(current.url))) return scheduleProbe(current, Math.min(attempt + 1, PROBE_DELAYS_MS.length - 1));
    if (current.stopped) return;
    current.up = true;
    current.probing = false;
    current.upSince = Date.now();
    current.log.info({ downForMs: current.upSince - current.downSince }, "the database is reachable again; work resumes");
    for (const wake of current.waiters) wake();
    current.waiters.clear();
    for (const listener of current.listeners) listener(true);
  }, PROBE_DELAYS_MS[attempt]);
  current.timer.unref();
}

/**
 * Reports a failed database call. Returns true when the error means the
 * database is away (the caller then waits with waitForDatabase instead of
 * failing its work); false for any other error, which the caller handles.
 */
export function reportDatabaseError(error: unknown, part: string): boolean {
  if (!isDatabaseUnavailable(error)) return false;
  const current = state;
  if (!current || current.probing) return true;
  current.up = false;
  current.probing = true;
  current.downSince = Date.now();
  const reason = error instanceof Error ? error.message.split("\n").filter(Boolean).at(-1) : String(error);
  current.log.warn({ part, reason }, "the database is unreachable; work waits for it (nothing committed is lost)");
  for (const listener of current.listeners) listener(false);
  scheduleProbe(current, 0);
  return true;
}

/** Resolves once the database is reachable again (at once if it is), or false when `signal` aborts first. */
export function waitForDatabase(signal?: AbortSignal): Promise<boolean> {
  const current = state;
  if (!current || current.up) return Promise.resolve(true);
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const wake = () => {
      signal?.removeEventListener("abort", onAbort);
      resolve(!signal?.aborted && !current.stopped);
    };
    const onAbort = () => {
      current.waiters.delete(wake);
      resolve(false);
    };
    current.waiters.add(wake);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
