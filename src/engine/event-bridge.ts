import { reportDatabaseError } from "../db/availability.js";
import { prisma } from "../db/client.js";
import type { Logger } from "../logger.js";
import type { EventHub } from "./event-hub.js";
import { listenChannel } from "./listen.js";
import { EVENTS_CHANNEL, eventFromRow, eventsOfBatch, type MilepostEvent, type Notice } from "./events.js";

/**
 * Bridges Postgres NOTIFY into the hub, on a connection of its own (a
 * pooled one would lose its LISTEN). If the connection drops, it reconnects
 * and replays the persisted events it missed from the Event table; only
 * PROGRESS sent meanwhile is lost, and the next one replaces it anyway.
 * Token revocations travel the same channel; `onReconnect` lets the caller
 * catch up on those it may have missed.
 */
export async function startEventBridge(
  databaseUrl: string,
  hub: EventHub,
  log: Logger,
  onReconnect: () => Promise<void> = async () => undefined,
): Promise<{ stop(): Promise<void> }> {
  // Replays start after the newest event stored before the bridge listened: even one that never delivered an event
  // makes up, after a reconnection, for what was stored meanwhile.
  const [{ newest }] = await prisma().$queryRaw<{ newest: bigint }[]>`SELECT COALESCE(max(id), 0) AS newest FROM "Event"`;
  let lastPersisted = newest;
  let queue = Promise.resolve();

  const deliver = (event: MilepostEvent) => {
    if (event.kind !== "PROGRESS") lastPersisted = BigInt(event.id);
    hub.publish(event);
  };
  const load = async (ids: bigint[]) => {
    const rows = await prisma().event.findMany({ where: { id: { in: ids } }, orderBy: { id: "asc" } });
    rows.map(eventFromRow).forEach(deliver);
  };
  const receive = async (text: string) => {
    const notice = JSON.parse(text) as Notice;
    if ("revoked" in notice) return hub.revoke(notice.revoked);
    if ("ref" in notice) return load([BigInt(notice.ref)]);
    if ("refs" in notice) return load(notice.refs.map(BigInt));
    if ("statuses" in notice) return eventsOfBatch(notice.statuses).forEach(deliver);
    deliver({ ...notice.event, at: new Date(notice.event.at) } as MilepostEvent);
  };
  const replayMissed = async () => {
    const rows = await prisma().event.findMany({ where: { id: { gt: lastPersisted } }, orderBy: { id: "asc" } });
    rows.map(eventFromRow).forEach(deliver);
  };

  const listener = await listenChannel(
    databaseUrl,
    EVENTS_CHANNEL,
    {
      // One at a time, so events fetched by reference keep their order.
      onPayload: (payload) => {
        queue = queue.then(() => receive(payload)).catch((error) => log.error({ err: error }, "could not deliver an event"));
      },
      onReconnected: () => {
        queue = queue
          .then(replayMissed)
          .then(onReconnect)
          .catch((error) => {
            if (!reportDatabaseError(error, "event listener")) log.error({ err: error }, "could not replay the events missed while reconnecting");
          });
      },
    },
    log,
  );
  return {
    async stop() {
      await listener.stop();
      await queue;
    },
  };
}
