import type { ServerResponse } from "node:http";
import { Kind, parse } from "graphql";
import type { YogaInitialContext } from "graphql-yoga";
import type { WebSocket } from "ws";
import type { EventHub } from "../engine/event-hub.js";
import { authenticate, secretFrom, type Viewer } from "../auth/tokens.js";
import type { Context } from "../schema/context.js";
import { reportDatabaseError } from "../db/availability.js";
import { databaseUnavailable, userError } from "../schema/errors.js";
import { MAX_DOCUMENT_BYTES } from "./limits.js";

/** The viewer every request acts as when MILEPOST_AUTH=off. */
export const AUTH_OFF_VIEWER: Viewer = { tokenId: null, name: "auth off", role: "ADMIN" };

/**
 * Over WebSockets the token comes from graphql-ws `connectionParams` and is
 * passed in; over HTTP it is read from the Authorization header. Either way
 * it is checked for every operation, so a revoked token stops working at once.
 */
export type InitialContext = YogaInitialContext & {
  token?: string;
  /** The node response, over HTTP (whatwg-node's server context). */
  res?: ServerResponse;
  /** The socket, over WebSockets. */
  socket?: WebSocket;
};

/**
 * Who reads the schema without a token. The schema is no secret (it is
 * printed in the repository), and GraphiQL fetches it when the page opens,
 * before a token can be pasted: its Docs pane works at once. Only a
 * document of nothing but __schema, __type and __typename gets this far.
 */
const SCHEMA_READER: Viewer = { tokenId: null, name: "schema reader (no token)", role: "VIEWER" };

function isIntrospectionOnly(query: unknown): boolean {
  if (typeof query !== "string" || query.length > MAX_DOCUMENT_BYTES) return false;
  let document;
  try {
    document = parse(query);
  } catch {
    return false;
  }
  return document.definitions.every((definition) => {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) return true; // only reachable from the fields below
    if (definition.kind !== Kind.OPERATION_DEFINITION || definition.operation !== "query") return false;
    return definition.selectionSet.selections.every((selection) => selection.kind === Kind.FIELD && ["__schema", "__type", "__typename"].includes(selection.name.value));
  });
}

/** The one context factory for HTTP and WebSockets. */
export function createContextFactory(authOff: boolean, events: EventHub, defaults: Context["defaults"]) {
  return async (initial: InitialContext): Promise<Context> => {
    const disconnect = () => (initial.socket ? initial.socket.terminate() : initial.res?.destroy());
    const connection: object = initial.socket ?? initial.res ?? initial.request;
    if (authOff) return { viewer: AUTH_OFF_VIEWER, events, defaults, disconnect, connection };
    const secret = initial.token ?? secretFrom(initial.request.headers.get("authorization"));
    if (!secret && isIntrospectionOnly(initial.params?.query)) return { viewer: SCHEMA_READER, events, defaults, disconnect, connection };
    if (!secret) throw userError("UNAUTHENTICATED", 'Send a token: "Authorization: Bearer <token>"');
    const viewer = await authenticate(secret).catch((error: unknown) => {
      // A token never checked before cannot be checked now: say so, rather than fail the request as a bug.
      if (reportDatabaseError(error, "authentication")) throw databaseUnavailable();
      throw error;
    });
    if (!viewer) throw userError("UNAUTHENTICATED", "The token is unknown or revoked");
    return { viewer, events, defaults, disconnect, connection };
  };
}
