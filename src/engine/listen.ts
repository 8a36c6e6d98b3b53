import pg from "pg";
import { reportDatabaseError } from "../db/availability.js";
import type { Logger } from "../logger.js";

/** Waits between reconnection attempts, the last repeated. */
const RECONNECT_MS = [250, 1000, 2000, 5000];

export interface ChannelListener {
  stop(): Promise<void>;
}

/**
 * LISTENs on a channel on a connection of its own (a pooled one would lose
 * its LISTEN), and reconnects with backoff when the connection drops;
 * `onReconnected` runs after each reconnection, for the caller to make up
 * for what was sent meanwhile. The first connection must succeed.
 */
export async function listenChannel(
  databaseUrl: string,
  channel: string,
  handlers: { onPayload(payload: string): void; onReconnected?(): void },
  log: Logger,
): Promise<ChannelListener> {
  let client: pg.Client | undefined;
  let stopped = false;
  const part = `${channel} listener`;

  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: databaseUrl });
    next.on("notification", (message) => {
      if (message.channel === channel && message.payload) handlers.onPayload(message.payload);
    });
    next.on("error", (error) => {
      if (!reportDatabaseError(error, part)) log.warn({ err: error, channel }, "listener connection failed; reconnecting");
    });
    next.on("end", () => {
      if (stopped || client !== next) return;
      client = undefined;
      setTimeout(() => reconnect(0), RECONNECT_MS[0]).unref();
    });
    await next.connect();
    await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    client = next;
  };
  const reconnect = (attempt: number): void => {
    if (stopped) return;
    connect().then(
      () => {
        log.info({ channel }, "listener reconnected");
        handlers.onReconnected?.();
      },
      (error: unknown) => {
        const delay = RECONNECT_MS[Math.min(attempt + 1, RECONNECT_MS.length - 1)];
        if (!reportDatabaseError(error, part)) log.warn({ err: error, channel, retryInMs: delay }, "listener cannot reach PostgreSQL");
        setTimeout(() => reconnect(attempt + 1), delay).unref();
      },
    );
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
