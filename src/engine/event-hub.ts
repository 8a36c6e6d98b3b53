import type { SubjectKind } from "../generated/prisma/enums.js";
import type { MilepostEvent } from "./events.js";

/**
 * A subscriber may fall this many events behind before it is let go: a
 * client that stops reading would otherwise hold every event from then on in
 * the server's memory. It can subscribe again with `after` and miss nothing
 * that was persisted.
 */
export const MAX_QUEUED_EVENTS = 5000;

/**
 * Subscriptions one connection (a WebSocket, or an HTTP stream) may hold
 * at once, and one token across every connection: each costs the server a
 * queue and a share of every event of its topic.
 */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 50;
export const MAX_SUBSCRIPTIONS_PER_TOKEN = 200;

/** A listen past MAX_SUBSCRIPTIONS_PER_CONNECTION or MAX_SUBSCRIPTIONS_PER_TOKEN. */
export class TooManySubscriptionsError extends Error {
  override name = "TooManySubscriptionsError";
}

/** A subscriber fell MAX_QUEUED_EVENTS behind, or its token was revoked: its stream ends with this. */
export class ListenerClosedError extends Error {
  override name = "ListenerClosedError";
  constructor(
    message: string,
    readonly reason: "slow" | "revoked",
  ) {
    super(message);
  }
}

export interface Listener extends AsyncIterable<MilepostEvent> {
  /** Stops listening; a pending read ends. */
  close(): void;
  /** Drops the events waiting to be read (a subscriber that re-reads state needs only to know there were some), returning the last. */
  drain(): MilepostEvent | undefined;
}

export interface ListenOptions {
  /** This subject's events (its own topic). Without `subject` or `scope`: every event. */
  subject?: { kind: SubjectKind; id: number };
  /** The events of every subject of a kind in one scope (a queue's items, a job's steps); with `subject`, both. */
  scope?: { kind: SubjectKind; scope: string };
  /** The token the subscriber authenticated with: revoking it ends the stream. */
  tokenId?: number | null;
  /** The connection it came on (a socket or a response): counted against MAX_SUBSCRIPTIONS_PER_CONNECTION. */
  connection?: object;
  /**
   * Called when the subscriber falls MAX_QUEUED_EVENTS behind. A reader held
   * back by backpressure never asks for the next event, so it cannot learn
   * of this from the stream: its connection has to be dropped from here.
   */
  onSlow?: () => void;
}

export interface EventHub {
  /** Delivers an event to the listeners of its subject and to those of every event. */
  publish(event: MilepostEvent): void;
  /**
   * Starts listening at once, so nothing published from now on is missed
   * while the caller reads a snapshot or replays the table.
   */
  listen(options?: ListenOptions): Listener;
  /** Ends every stream opened with this token, and tells the `onRevoked` callbacks (which close its sockets). */
  revoke(tokenId: number): void;
  onRevoked(callback: (tokenId: number) => void): void;
  /** Tokens with a stream open in this process. */
  openTokens(): number[];
}

const ALL = "*";
const topicOf = (kind: SubjectKind, id: number) => `${kind}:${id}`;
const scopeOf = (kind: SubjectKind, scope: string) => `${kind}@${scope}`;

/**
 * The api process's fan-out of live events: a topic per subject, so a
 * subscriber is woken only by its own subject's events, and a bounded queue
 * per subscriber. Fed by the LISTEN/NOTIFY bridge.
 */
export function createEventHub(): EventHub {
  const topics = new Map<string, Set<Queue>>();
  const byToken = new Map<number, Set<Queue>>();
  const byConnection = new Map<object, Set<Queue>>();
  const revokedCallbacks: ((tokenId: number) => void)[] = [];

  interface Queue {
    push(event: MilepostEvent): void;
    fail(error: ListenerClosedError): void;
  }

  const add = <K>(map: Map<K, Set<Queue>>, key: K, queue: Queue) => {
    const set = map.get(key) ?? new Set();
    set.add(queue);
    map.set(key, set);
  };
  const remove = <K>(map: Map<K, Set<Queue>>, key: K, queue: Queue) => {
    const set = map.get(key);
    set?.delete(queue);
    if (set?.size === 0) map.delete(key);
  };

  return {
    publish(event) {
      const scoped = event.scope == null ? [] : [scopeOf(event.subjectKind, event.scope)];
      for (const topic of [topicOf(event.subjectKind, event.subjectId), ...scoped, ALL]) {
        for (const queue of topics.get(topic) ?? []) queue.push(event);
      }
    },
    listen(options = {}) {
      const chosen = [options.subject && topicOf(options.subject.kind, options.subject.id), options.scope && scopeOf(options.scope.kind, options.scope.scope)];
      const listened = chosen.filter((topic): topic is string => Boolean(topic));
      if (listened.length === 0) listened.push(ALL);
      const tokenId = options.tokenId ?? null;
      const connection = options.connection ?? null;
      if (connection !== null && (byConnection.get(connection)?.size ?? 0) >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
        throw new TooManySubscriptionsError(`This connection holds ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions, the most one may: complete one before starting another`);
      }
      if (tokenId !== null && (byToken.get(tokenId)?.size ?? 0) >= MAX_SUBSCRIPTIONS_PER_TOKEN) {
        throw new TooManySubscriptionsError(`This token holds ${MAX_SUBSCRIPTIONS_PER_TOKEN} subscriptions across its connections, the most one may: complete some, or give each client a token of its own`);
      }
      let buffered: MilepostEvent[] = [];
      let waiting: ((result: IteratorResult<MilepostEvent>) => void) | null = null;
      let failed: ((error: ListenerClosedError) => void) | null = null;
      let ended: ListenerClosedError | "closed" | null = null;

      const detach = () => {
        for (const topic of listened) remove(topics, topic, queue);
        if (tokenId !== null) remove(byToken, tokenId, queue);
        if (connection !== null) remove(byConnection, connection, queue);
      };
      const queue: Queue = {
        push(event) {
          if (waiting) {
            const resolve = waiting;
            waiting = failed = null;
            return resolve({ value: event, done: false });
          }
          buffered.push(event);
          if (buffered.length > MAX_QUEUED_EVENTS) {
            queue.fail(
              new ListenerClosedError(
                `This subscriber fell more than ${MAX_QUEUED_EVENTS} events behind and was disconnected; subscribe again with \`after\` set to the last event id it received`,
                "slow",
              ),
            );
            options.onSlow?.();
          }
        },
        fail(error) {
          ended = error;
          buffered = [];
          detach();
          if (failed) failed(error);
          waiting = failed = null;
        },
      };
      for (const topic of listened) add(topics, topic, queue);
      if (tokenId !== null) add(byToken, tokenId, queue);
      if (connection !== null) add(byConnection, connection, queue);

      return {
        drain() {
          const last = buffered.at(-1);
          buffered = [];
          return last;
        },
        close() {
          ended ??= "closed";
          buffered = [];
          detach();
          waiting?.({ value: undefined, done: true });
          waiting = failed = null;
        },
        [Symbol.asyncIterator]() {
          return {
            next: () => {
              if (ended instanceof ListenerClosedError) return Promise.reject(ended);
              if (ended === "closed") return Promise.resolve({ value: undefined, done: true });
              const event = buffered.shift();
              if (event) return Promise.resolve({ value: event, done: false });
              return new Promise<IteratorResult<MilepostEvent>>((resolve, reject) => {
                waiting = resolve;
                failed = reject;
              });
            },
          };
        },
      };
    },
    revoke(tokenId) {
      // Sockets first: a WebSocket is closed with its own code (4403) rather than seeing its streams fail one by one.
      for (const callback of revokedCallbacks) callback(tokenId);
      for (const queue of [...(byToken.get(tokenId) ?? [])]) {
        queue.fail(new ListenerClosedError("The token of this subscription was revoked", "revoked"));
      }
    },
    onRevoked(callback) {
      revokedCallbacks.push(callback);
    },
    openTokens() {
      return [...byToken.keys()];
    },
  };
}
