import { maxDepthPlugin } from "@escape.tech/graphql-armor-max-depth";
import type { Plugin } from "graphql-yoga";
import { userError } from "../schema/errors.js";

/** A GraphQL document larger than this is refused before it is parsed. */
export const MAX_DOCUMENT_BYTES = 100 * 1024;
/** Deeper selections are refused: no contract query needs more than 8 levels. */
export const MAX_DEPTH = 15;
/**
 * The whole HTTP body (document plus variables) is capped higher than the
 * document alone, since a batch enqueue carries its items as variables.
 */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** One WebSocket message (a subscribe with its variables). */
export const MAX_WS_MESSAGE_BYTES = 1024 * 1024;

/** Refuses oversized and over-deep documents with BAD_USER_INPUT. */
export function useDocumentLimits(): Plugin[] {
  const sizeLimit: Plugin = {
    onParams({ params }) {
      if (params.query && Buffer.byteLength(params.query) > MAX_DOCUMENT_BYTES) {
        throw userError("BAD_USER_INPUT", `The GraphQL document is larger than ${MAX_DOCUMENT_BYTES / 1024} kB`, {
          http: { status: 413 },
        });
      }
    },
  };
  const depthLimit = maxDepthPlugin({
    n: MAX_DEPTH,
    ignoreIntrospection: true,
    flattenFragments: true,
    exposeLimits: true,
  }) as Plugin;
  return [sizeLimit, depthLimit];
}
