import type { IncomingMessage, Server } from "node:http";
import { GraphQLError, type ExecutionArgs } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer, type WebSocket } from "ws";
import { originRefusal, type OriginRules } from "./origins.js";
import type { EventHub } from "../engine/event-hub.js";
import { authenticate, secretFrom } from "../auth/tokens.js";
import { reportDatabaseError } from "../db/availability.js";
import { logger } from "../logger.js";
import { withContractCode } from "../schema/errors.js";
import { MAX_WS_MESSAGE_BYTES } from "./limits.js";
import type { Yoga } from "./yoga.js";

/** Close codes for a refused connection: no token at all, or a bad (or revoked) one. */
export const WS_UNAUTHORIZED = 4401;
export const WS_FORBIDDEN = 4403;
/** RFC 6455's "Try Again Later": the token could not be checked while the database is away. */
export const WS_TRY_AGAIN_LATER = 1013;
/**
 * A client that stops reading leaves what the server sends in the socket's
 * buffer; past this much it is disconnected (its subscriptions end) rather
 * than holding memory. It can reconnect and resubscribe with `after`.
 */
export const MAX_UNSENT_BYTES = 4 * 1024 * 1024;

/** A client that stopped reading is cut off (a close frame would wait behind the unsent data). */
function dropIfStalled(socket: WebSocket): void {
  if (socket.bufferedAmount <= MAX_UNSENT_BYTES) return;
  logger.info({ unsentBytes: socket.bufferedAmount }, "a WebSocket client stopped reading; disconnected");
  socket.terminate();
}

type ConnectionParams = { authorization?: unknown; Authorization?: unknown; token?: unknown } | undefined;

function tokenOf(params: ConnectionParams): string | undefined {
  return secretFrom(params?.authorization) ?? secretFrom(params?.Authorization) ?? secretFrom(params?.token);
}

/**
 * graphql-ws on the HTTP server's port and GraphQL path. Operations go
 * through Yoga's envelop, so auth, masking, limits and plugins
 * are the same as over HTTP. The token is checked on connect (4401 without
 * one, 4403 for a bad one) and again for every operation.
 */
export function attachWebSockets(server: Server, yoga: Yoga, origins: OriginRules, events: EventHub): { close(): Promise<void> } {
  const { authOff } = origins;
  // A browser opens a WebSocket to any origin without asking (no CORS): the same origin rules as HTTP.
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: MAX_WS_MESSAGE_BYTES, verifyClient: ({ req }: { req: IncomingMessage }) => originRefusal(req, origins) === null });
  const socketsOfToken = new Map<number, Set<WebSocket>>();
  // Checked at every message sent, and every second for a socket whose last message filled it.
  const stallCheck = setInterval(() => wss.clients.forEach(dropIfStalled), 1000);
  stallCheck.unref();
  events.onRevoked((tokenId) => {
    for (const socket of socketsOfToken.get(tokenId) ?? []) socket.close(WS_FORBIDDEN, "Forbidden: the token was revoked");
    socketsOfToken.delete(tokenId);
  });
  const disposable = useServer<ConnectionParams>(
    {
      execute: (args) => (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
      subscribe: (args) => (args.rootValue as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args) as never,
      onConnect: async (ctx) => {
        if (authOff) return true;
        const token = tokenOf(ctx.connectionParams);
        if (!token) {
          ctx.extra.socket.close(WS_UNAUTHORIZED, 'Unauthorized: pass connectionParams { authorization: "Bearer <token>" }');
          return false;
        }
        let viewer;
        try {
          viewer = await authenticate(token);
        } catch (error) {
          if (!reportDatabaseError(error, "authentication")) throw error;
          ctx.extra.socket.close(WS_TRY_AGAIN_LATER, "The database is unavailable; reconnect shortly");
          return false;
        }
        if (viewer?.tokenId == null) return viewer !== null; // false closes with 4403 Forbidden
        const socket = ctx.extra.socket;
        const sockets = socketsOfToken.get(viewer.tokenId) ?? new Set();
        socketsOfToken.set(viewer.tokenId, sockets.add(socket));
        socket.once("close", () => {
          sockets.delete(socket);
          if (sockets.size === 0 && socketsOfToken.get(viewer.tokenId!) === sockets) socketsOfToken.delete(viewer.tokenId!);
        });
        return true;
      },
      onNext: (ctx) => dropIfStalled(ctx.extra.socket),
      onSubscribe: async (ctx, _id, payload) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          token: tokenOf(ctx.connectionParams),
        });
        let document;
        let errors: readonly GraphQLError[];
        try {
          // Limits (size, tokens, depth, aliases) throw from parse and validate, as they do over HTTP.
          document = parse(payload.query);
          errors = validate(schema, document);
        } catch (error) {
          return [withContractCode(error instanceof GraphQLError ? error : new GraphQLError(String(error)))];
        }
        if (errors.length > 0) return errors.map(withContractCode);
        let contextValue;
        try {
          contextValue = await contextFactory();
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        return {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
          rootValue: { execute, subscribe },
        };
      },
    },
    wss,
  );
  wss.on("error", (error) => logger.error({ err: error }, "WebSocket server error"));
  return {
    /** Closes every socket (1001 Going away), then the server. */
    close: async () => {
      clearInterval(stallCheck);
      await disposable.dispose();
    },
  };
}
