import pg from "pg";
import type { Db } from "./events.js";
import { reportDatabaseError } from "../db/availability.js";
import type { Logger } from "../logger.js";

/**
 * The channel that wakes workers: new work in a queue ({"queue": name}),
 * or running work to abort at once ({"cancel": [ids]}). Workers also poll,
 * so a lost notice delays work by a second, never loses it.
 */
export const WORK_CHANNEL = "milepost_work";

export type WorkNotice = { queue: string } | { cancel: { kind: string; ids: number[] } };

/** Sent when the transaction commits, like every NOTIFY. */
export async function notifyWork(db: Db, notice: WorkNotice): Promise<void> {
  await db.$queryRaw`SELECT pg_notify(${WORK_CHANNEL}, ${JSON.stringify(notice)})::text`;
}

const RECONNECT_MS = 1000;

/**
 * LISTENs on WORK_CHANNEL on a connection of its own, reconnecting after a
 * drop (a notice missed meanwhile is made up for by the workers' polling).
 */
export async function listenForWork(databaseUrl: string, onNotice: (notice: WorkNotice) => void, log: Logger): Promise<{ stop(): Promise<void> }> {
  let client: pg.Client | undefined;
  let stopped = false;
  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: databaseUrl });
    next.on("notification", (message) => {
      if (message.channel !== WORK_CHANNEL || !message.payload) return;
      try {
        onNotice(JSON.parse(message.payload) as WorkNotice);
      } catch (error) {
        log.warn({ err: error }, "ignored a malformed work notice");
      }
    });
    next.on("error", (error) => {
      if (!reportDatabaseError(error, "work listener")) log.warn({ err: error }, "work listener connection failed; reconnecting");
    });
    next.on("end", () => {
      if (stopped || client !== next) return;
      client = undefined;
      setTimeout(reconnect, RECONNECT_MS).unref();
    });
    await next.connect();
    await next.query(`LISTEN ${WORK_CHANNEL}`);
    client = next;
  };
  const reconnect = () => {
    if (stopped) return;
    connect().catch((error: unknown) => {
      reportDatabaseError(error, "work listener");
      setTimeout(reconnect, RECONNECT_MS).unref();
    });
  };
  await connect();
  return {
    async stop() {
      stopped = true;
      const closing = client;
      client = undefined;
      await closing?.end().catch(() => undefined);
    },
  };
}
