import SchemaBuilder from "@pothos/core";
import ComplexityPlugin from "@pothos/plugin-complexity";
import { getNamedType, getNullableType, isListType, type GraphQLField } from "graphql";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import type PrismaTypes from "../generated/pothos-types.js";
import { getDatamodel } from "../generated/pothos-types.js";
import { prisma } from "../db/client.js";
import type { Context } from "./context.js";

/** Items a list field without `first` is assumed to return: a connection's default page, or a short list. */
const ASSUMED_CONNECTION_ITEMS = 50;
const ASSUMED_LIST_ITEMS = 10;
/**
 * A JSON value (a payload, a result, a record's data) may hold 64 kB where
 * another field holds a few bytes: it costs this many fields, so the cost
 * limit bounds how many of them one operation reads (about 1,200).
 */
export const JSON_FIELD_COST = 20;

/**
 * A field costs 1, and what is selected under a list or connection counts
 * once per item asked for (`first`/`last`), so an operation's cost grows
 * with the rows it can make the server read.
 */
function fieldComplexity(args: Record<string, unknown>, _ctx: Context, field: GraphQLField<unknown, Context, Record<string, unknown>>) {
  if (getNamedType(field.type).name === "JSON") return JSON_FIELD_COST;
  const asked = [args.first, args.last].find((value): value is number => typeof value === "number");
  if (asked !== undefined) return { field: 1, multiplier: Math.max(1, asked) };
  // A connection's `edges` are the items its own multiplier already counted.
  if (field.name === "edges" && getNamedType(field.type).name.endsWith("Edge")) return { field: 1, multiplier: 1 };
  if (getNamedType(field.type).name.endsWith("Connection")) return { field: 1, multiplier: ASSUMED_CONNECTION_ITEMS };
  return isListType(getNullableType(field.type)) ? { field: 1, multiplier: ASSUMED_LIST_ITEMS } : 1;
}

/** The schema builder: plugins, scalars and root types only. */
export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  DefaultEdgesNullability: { list: false; items: false };
  DefaultNodeNullability: false;
  Connection: { totalCount: number | (() => Promise<number>) };
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  plugins: [ComplexityPlugin, PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  // The cost every field adds to an operation (checked against MAX_COMPLEXITY in src/http/limits.ts).
  complexity: { fieldComplexity },
  prisma: {
    client: () => prisma(),
    dmmf: getDatamodel(),
    exposeDescriptions: true,
    onUnusedQuery: process.env.NODE_ENV === "production" ? null : "error",
  },
  relay: {
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    edgesFieldOptions: { nullable: { list: false, items: false } },
    nodeFieldOptions: { nullable: false },
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

builder.globalConnectionField("totalCount", (t) =>
  t.int({
    description: "How many match, across all pages.",
    resolve: (connection) => (typeof connection.totalCount === "function" ? connection.totalCount() : connection.totalCount),
  }),
);
