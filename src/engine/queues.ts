import type PgBoss from "pg-boss";
import { z } from "zod";
import type { Tx } from "../db/client.js";

/**
 * Every pg-boss queue, declared once. A job carries ids only;
 * its handler reads the state from the tables (docs/architecture.md, rule 1).
 */
export const QUEUES = {
  /**
   * Runs (or continues) one import. Retries are the engine's own (a crash
   * count on the row, a sweep for stale leases), so pg-boss does not retry;
   * a job may run for hours, hence the long expiry.
   */
  importRun: {
    name: "import-run",
    payload: z.object({ importId: z.number().int().positive() }),
    options: { policy: "standard", retryLimit: 0, expireInHours: 23, retentionDays: 7 } satisfies Omit<PgBoss.Queue, "name">,
  },
  /**
   * Deletes old LOG and STATUS events of finished work (EVENT_RETENTION_DAYS),
   * on a cron schedule; one run at a time across every process.
   */
  eventRetention: {
    name: "event-retention",
    payload: z.object({}).passthrough(),
    options: { policy: "singleton", retryLimit: 2, retryDelay: 60, expireInHours: 1, retentionDays: 7 } satisfies Omit<PgBoss.Queue, "name">,
  },
} as const;

export type QueueName = keyof typeof QUEUES;
export type Payload<Q extends QueueName> = z.infer<(typeof QUEUES)[Q]["payload"]>;

export async function createQueues(boss: PgBoss): Promise<void> {
  for (const queue of Object.values(QUEUES)) await boss.createQueue(queue.name, { name: queue.name, ...queue.options });
}

let current: PgBoss | undefined;
const localWorkers = new Map<QueueName, string[]>();
const handlers = new Map<QueueName, { count: number; handler: PgBoss.WorkHandler<unknown> }>();

/** The process's pg-boss, set by the service at start. */
export function setBoss(boss: PgBoss | undefined): void {
  current = boss;
  if (!boss) {
    localWorkers.clear();
    handlers.clear();
  }
}

/** pg-boss's `db` option over a Prisma transaction: the job exists only if the transaction commits. */
function inTransaction(tx: Tx): PgBoss.Db {
  return {
    executeSql: async (text, values) => ({ rows: await tx.$queryRawUnsafe<unknown[]>(text, ...values) }),
  };
}

/** Sends a job, inside `tx` when given (enqueue with the row that needs it). */
export async function sendJob<Q extends QueueName>(queue: Q, payload: Payload<Q>, options: { tx?: Tx; startAfter?: Date } = {}): Promise<void> {
  if (!current) throw new Error("pg-boss is not started");
  const { name, payload: schema } = QUEUES[queue];
  await current.send(name, schema.parse(payload), {
    ...(options.startAfter ? { startAfter: options.startAfter } : {}),
    ...(options.tx ? { db: inTransaction(options.tx) } : {}),
  });
}

/** Starts `count` workers of a queue in this process (one job at a time each). */
export async function startWorkers(boss: PgBoss, queue: QueueName, count: number, handler: PgBoss.WorkHandler<unknown>): Promise<void> {
  handlers.set(queue, { count, handler });
  const ids = localWorkers.get(queue) ?? [];
  for (let i = 0; i < count; i++) ids.push(await boss.work(QUEUES[queue].name, { batchSize: 1, pollingIntervalSeconds: 0.5 }, handler));
  localWorkers.set(queue, ids);
}

/**
 * Stops this process's workers from asking for jobs (while the database is
 * away, each poll would only fail); jobs already running go on.
 */
export async function pauseWorkers(): Promise<void> {
  for (const queue of handlers.keys()) await current?.offWork(QUEUES[queue].name);
  localWorkers.clear();
}

/** Starts the paused workers again. */
export async function resumeWorkers(): Promise<void> {
  if (!current) return;
  for (const [queue, { count, handler }] of handlers) {
    if (!localWorkers.get(queue)?.length) {
      handlers.delete(queue);
      await startWorkers(current, queue, count, handler);
    }
  }
}

/**
 * This process's workers of `queue` look for jobs now rather than at their
 * next poll (up to half a second later). Call it once the transaction that
 * sent the job has committed; workers in other processes still poll.
 */
export function wakeWorkers(queue: QueueName): void {
  for (const id of localWorkers.get(queue) ?? []) current?.notifyWorker(id);
}
