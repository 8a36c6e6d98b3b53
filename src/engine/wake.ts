import type { Logger } from "../logger.js";
import type { Db } from "./events.js";
import { listenChannel, type ChannelListener } from "./listen.js";

/**
 * The channel that wakes workers: new work in a queue ({"queue": name}),
 * or running work to stop at once ({"stop": {kind, ids, flag}}). Workers
 * also poll and read their leases' flags every second, so a lost notice
 * delays work or a stop by a second, never loses it.
 */
export const WORK_CHANNEL = "milepost_work";

export type WorkNotice = { queue: string } | { stop: { kind: string; ids: number[]; flag: "pause" | "cancel" } };

/** Sent when the transaction commits, like every NOTIFY. */
export async function notifyWork(db: Db, notice: WorkNotice): Promise<void> {
  await db.$queryRaw`SELECT pg_notify(${WORK_CHANNEL}, ${JSON.stringify(notice)})::text`;
}

/**
 * LISTENs on WORK_CHANNEL (a notice missed while reconnecting is made up for
 * by the workers' polling).
 */
export function listenForWork(databaseUrl: string, onNotice: (notice: WorkNotice) => void, log: Logger): Promise<ChannelListener> {
  return listenChannel(
    databaseUrl,
    WORK_CHANNEL,
    {
      onPayload: (payload) => {
        try {
          onNotice(JSON.parse(payload) as WorkNotice);
        } catch (error) {
          log.warn({ err: error }, "ignored a malformed work notice");
        }
      },
    },
    log,
  );
}
