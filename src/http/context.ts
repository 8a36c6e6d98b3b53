import type { YogaInitialContext } from "graphql-yoga";
import type { EventPubSub } from "../core/event-bridge.js";
import { authenticate, secretFrom, type Viewer } from "../auth/tokens.js";
import { userError } from "../schema/errors.js";

/** What every resolver gets, over HTTP and WebSockets alike. */
export interface Context {
  viewer: Viewer;
  /** Live events of this api process, fed by the LISTEN/NOTIFY bridge. */
  pubsub: EventPubSub;
  /** Defaults that mutations apply (CHECKPOINT_EVERY). */
  defaults: { checkpointEvery: number };
}

/** The viewer every request acts as when MILEPOST_AUTH=off. */
export const AUTH_OFF_VIEWER: Viewer = { tokenId: null, name: "auth off", role: "ADMIN" };

/**
 * Over WebSockets the token comes from graphql-ws `connectionParams` and is
 * passed in; over HTTP it is read from the Authorization header. Either way
 * it is checked for every operation, so a revoked token stops working at once.
 */
export type InitialContext = YogaInitialContext & { token?: string };

/** The one context factory for HTTP and WebSockets (STYLE.md 5). */
export function createContextFactory(authOff: boolean, pubsub: EventPubSub, defaults: Context["defaults"]) {
  return async (initial: InitialContext): Promise<Context> => {
    if (authOff) return { viewer: AUTH_OFF_VIEWER, pubsub, defaults };
    const secret = initial.token ?? secretFrom(initial.request.headers.get("authorization"));
    if (!secret) throw userError("UNAUTHENTICATED", 'Send a token: "Authorization: Bearer <token>"');
    const viewer = await authenticate(secret);
    if (!viewer) throw userError("UNAUTHENTICATED", "The token is unknown or revoked");
    return { viewer, pubsub, defaults };
  };
}
