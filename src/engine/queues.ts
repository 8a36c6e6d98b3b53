import type PgBoss from "pg-boss";
import type { z } from "zod";
import type { Tx } from "../db/client.js";

/**
 * pg-boss queues, each declared once by the part that owns it (a kind of
 * work, a maintenance task): its name, its payload's schema, its options.
 * A job carries ids only; its handler reads the state from the tables
 * (Postgres is the truth). The service creates every declared queue at
 * start.
 */
export interface QueueDeclaration<P> {
  name: string;
  payload: z.ZodType<P>;
  options: Omit<PgBoss.Queue, "name">;
}

export interface Queue<P> extends QueueDeclaration<P> {
  /** Sends a job, inside `tx` when given (with the row that needs it: the job exists only if the row does), after `delayMs` if given. */
  send(payload: P, options?: { tx?: Tx; delayMs?: number }): Promise<void>;
  /** Starts `count` workers of this queue in this process, one job at a time each, polling every `pollSeconds` (0.5 by default) when idle. */
  work(count: number, handler: (payload: P) => Promise<void>, options?: { pollSeconds?: number }): Promise<void>;
  /** This process's workers look for jobs now rather than at their next poll: call it once the job's transaction has committed. */
  wake(): void;
  /** This process's workers stop asking for jobs (at shutdown: a job fetched now would only be handed on). */
  stopWorking(): Promise<void>;
}

const declared = new Map<string, Queue<unknown>>();
let current: PgBoss | undefined;
/** This process's workers: each queue's handler and how many run, and their pg-boss ids while they poll. */
const workers = new Map<string, { count: number; handler: PgBoss.WorkHandler<unknown>; ids: string[]; pollSeconds: number }>();

/** pg-boss's `db` option over a Prisma transaction: the job exists only if the transaction commits. */
function inTransaction(tx: Tx): PgBoss.Db {
  return {
    executeSql: async (text, values) => ({ rows: await tx.$queryRawUnsafe<unknown[]>(text, ...values) }),
  };
}

function boss(): PgBoss {
  if (!current) throw new Error("pg-boss is not started");
  return current;
}

async function startPolling(name: string): Promise<void> {
  const entry = workers.get(name)!;
  for (let i = entry.ids.length; i < entry.count; i++) entry.ids.push(await boss().work(name, { batchSize: 1, pollingIntervalSeconds: entry.pollSeconds }, entry.handler));
}

/** Declares a queue (once per name, at module load); the service creates it at start. */
export function declareQueue<P>(declaration: QueueDeclaration<P>): Queue<P> {
  if (declared.has(declaration.name)) throw new Error(`The queue "${declaration.name}" is declared twice`);
  const queue: Queue<P> = {
    ...declaration,
    async send(payload, options = {}) {
      await boss().send(declaration.name, declaration.payload.parse(payload) as object, {
        // Seconds from now on the database's clock, like every due time (src/engine/clock.ts).
        ...(options.delayMs ? { startAfter: Math.ceil(options.delayMs / 1000) } : {}),
        ...(options.tx ? { db: inTransaction(options.tx) } : {}),
      });
    },
    async work(count, handle, options = {}) {
      const handler: PgBoss.WorkHandler<unknown> = async (jobs) => {
        for (const job of jobs) await handle(declaration.payload.parse(job.data));
      };
      workers.set(declaration.name, { count, handler, ids: [], pollSeconds: options.pollSeconds ?? 0.5 });
      await startPolling(declaration.name);
    },
    wake() {
      for (const id of workers.get(declaration.name)?.ids ?? []) current?.notifyWorker(id);
    },
    async stopWorking() {
      const entry = workers.get(declaration.name);
      if (!entry) return;
      workers.delete(declaration.name);
      await current?.offWork(declaration.name);
    },
  };
  declared.set(declaration.name, queue as Queue<unknown>);
  return queue;
}

/** Creates every declared queue (idempotent), and makes `boss` the one jobs are sent through. */
export async function createQueues(started: PgBoss): Promise<void> {
  for (const queue of declared.values()) await started.createQueue(queue.name, { name: queue.name, ...queue.options });
  current = started;
}

/** Forgets pg-boss and this process's workers (at shutdown, once pg-boss has stopped). */
export function forgetBoss(): void {
  current = undefined;
  workers.clear();
}

/**
 * Stops this process's workers from asking for jobs (while the database is
 * away, each poll would only fail); jobs already running go on.
 */
export async function pauseWorkers(): Promise<void> {
  for (const [name, entry] of workers) {
    await current?.offWork(name);
    entry.ids = [];
  }
}

/** Starts the paused workers again. */
export async function resumeWorkers(): Promise<void> {
  if (!current) return;
  for (const name of workers.keys()) await startPolling(name);
}

/** The pg-boss of this process, for what a queue declaration does not cover (cron schedules). */
export function currentBoss(): PgBoss {
  return boss();
}
