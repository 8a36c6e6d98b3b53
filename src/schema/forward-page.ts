import { z } from "zod";
import { parseInput } from "../engine/errors.js";
import { userError } from "./errors.js";

/** A connection's paging arguments as Pothos gives them. */
export interface PagingArgs {
  first?: number | null;
  last?: number | null;
  before?: string | null;
}

/**
 * The page size of a connection that pages forward only (first and after):
 * `last` and `before` are refused by name instead of being ignored, which
 * would answer a different page than the one asked for.
 */
export function forwardPage(args: PagingArgs, size: { default: number; max: number }): number {
  for (const name of ["last", "before"] as const) {
    if (args[name] !== null && args[name] !== undefined) throw userError("BAD_USER_INPUT", `${name}: this list pages forward only; use first and after`, { fields: [name] });
  }
  return pageSize(args.first, size);
}

/** How many items a list answers: `first`, or the default, refused as BAD_USER_INPUT past the list's maximum. */
export function pageSize(first: number | null | undefined, size: { default: number; max: number }): number {
  return parseInput(z.number().int().min(0).max(size.max), first ?? size.default, ["first"]);
}

/** A page of a connection that pages forward: its nodes as edges under their cursors, and where it stands. */
export function connectionOf<Node>(nodes: Node[], cursorOf: (node: Node) => string, page: { hasNextPage: boolean; hasPreviousPage: boolean; totalCount: number | (() => Promise<number>) }) {
  const edges = nodes.map((node) => ({ cursor: cursorOf(node), node }));
  return {
    edges,
    pageInfo: { hasNextPage: page.hasNextPage, hasPreviousPage: page.hasPreviousPage, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null },
    totalCount: page.totalCount,
  };
}
