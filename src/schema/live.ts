import { ListenerClosedError, TooManySubscriptionsError, type ListenOptions, type Listener } from "../engine/event-hub.js";
import { sharedReads } from "../engine/shared-read.js";
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
  try {
    return ctx.events.listen({
      ...topic,
      tokenId: ctx.viewer.tokenId,
      connection: ctx.connection,
      onSlow: () => {
        logger.info({ viewer: ctx.viewer.name }, "a subscriber stopped reading and fell behind; disconnected");
        ctx.disconnect();
      },
    });
  } catch (error) {
    if (error instanceof TooManySubscriptionsError) throw userError("RATE_LIMITED", error.message, { reason: "TOO_MANY_SUBSCRIPTIONS" });
    throw error;
  }
}

/**
 * Ends a subscription's stream when its listener is let go. A revoked
 * token's reason is yielded as the last value, so the client gets it as a
 * GraphQL error with a code before the stream completes. A client that
 * completes the subscription closes the listener at once: the stream may be
 * waiting for an event of a quiet topic, and a generator's return() waits
 * for it, which would keep the listener (and its count against the
 * subscription caps) until the next event.
 */
export function untilClosed<T>(live: Listener, source: AsyncGenerator<T>): AsyncGenerator<T | ListenerClosedError> {
  const stream = (async function* () {
    try {
      yield* source;
    } catch (error) {
      if (!(error instanceof ListenerClosedError)) throw error;
      if (error.reason !== "slow") yield error; // a slow one's connection is already gone
    }
  })();
  const finish = stream.return.bind(stream);
  stream.return = (value) => {
    live.close();
    return finish(value);
  };
  return stream;
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

/** Reads of one state (`key`) after one event, made once for all its subscribers. */
const stateReads = sharedReads<string, unknown>();

/**
 * A subscription to some state (a queue's counts, a job's progress): the
 * state first, then read again after events, at most 4 times a second however
 * many events come; events that arrive meanwhile only say "read again".
 * Subscribers of the same state (`key`) share each read after the same
 * event: 100 watching a queue cost one count, not 100. `read` returning
 * null ends the stream (the subject is gone).
 */
export async function* liveState<T>(live: Listener, key: string, read: () => Promise<T | null>): AsyncGenerator<T> {
  try {
    let state: T | null = await read();
    if (state === null) return;
    yield state;
    let last = Date.now();
    for await (const event of live) {
      const wait = last + STATE_INTERVAL_MS - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const latest = live.drain() ?? event;
      state = (await stateReads(key, latest.id, read)) as T | null;
      if (state === null) return;
      last = Date.now();
      yield state;
    }
  } finally {
    live.close();
  }
}
