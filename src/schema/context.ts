import type { Viewer } from "../auth/tokens.js";
import type { EventHub } from "../engine/event-hub.js";

/** What every resolver gets, over HTTP and WebSockets alike (built by src/http/context.ts). */
export interface Context {
  viewer: Viewer;
  /** Live events of this api process, fed by the LISTEN/NOTIFY bridge. */
  events: EventHub;
  /** Defaults that mutations apply (CHECKPOINT_EVERY). */
  defaults: { checkpointEvery: number };
  /** Drops the client's connection (HTTP response or WebSocket) at once: for a subscriber that stopped reading. */
  disconnect(): void;
  /** The connection (socket or response) the request came on: subscriptions are counted per connection. */
  connection: object;
}
