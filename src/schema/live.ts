import { ListenerClosedError, type ListenOptions, type Listener } from "../engine/event-hub.js";
import type { Context } from "./context.js";
import { logger } from "../logger.js";
import { userError } from "./errors.js";

/**
 * Listens for a subscription of this request: ended when the viewer's token
 * is revoked, and, when the subscriber stops reading and falls too far
 * behind, its connection is dropped, which frees what it held (it can
 * resubscribe with `after`).
 */
export function listen(ctx: Context, topic: Pick<ListenOptions, "subject" | "scope"> = {}): Listener {
  return ctx.events.listen({
    ...topic,
    tokenId: ctx.viewer.tokenId,
    onSlow: () => {
      logger.info({ viewer: ctx.viewer.name }, "a subscriber stopped reading and fell behind; disconnected");
      ctx.disconnect();
    },
  });
}

/**
 * Ends a subscription's stream when its listener is let go. A revoked
 * token's reason is yielded as the last value, so the client gets it as a
 * GraphQL error with a code before the stream completes.
 */
export async function* untilClosed<T>(source: AsyncGenerator<T>): AsyncGenerator<T | ListenerClosedError> {
  try {
    yield* source;
  } catch (error) {
    if (!(error instanceof ListenerClosedError)) throw error;
    if (error.reason !== "slow") yield error; // a slow one's connection is already gone
  }
}

/** A subscription's `resolve`: the value, or the error that closed the stream. */
export function liveValue<T>(value: T | ListenerClosedError): T {
  if (value instanceof ListenerClosedError) {
    throw userError(value.reason === "revoked" ? "UNAUTHENTICATED" : "RATE_LIMITED", value.message);
  }
  return value;
}

/** State streams re-read at most this often (4 a second, as PROGRESS is coalesced). */
const STATE_INTERVAL_MS = 250;

/**
 * A subscription to some state (a queue's counts, a job's progress): the
 * state first, then read again after events, at most 4 times a second however
 * many events come; events that arrive meanwhile only say "read again".
 * `read` returning null ends the stream (the subject is gone).
 */
export async function* liveState<T>(live: Listener, read: () => Promise<T | null>): AsyncGenerator<T> {
  try {
    let state = await read();
    if (state === null) return;
    yield state;
    let last = Date.now();
    for await (const _event of live) {
      const wait = last + STATE_INTERVAL_MS - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      live.drain();
      state = await read();
      if (state === null) return;
      last = Date.now();
      yield state;
    }
  } finally {
    live.close();
  }
}
