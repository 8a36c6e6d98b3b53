import { GraphQLError, Kind, type ValueNode } from "graphql";
import { builder } from "./builder.js";

/** The instants a DateTime input may name: years 1 to 9999, which PostgreSQL, JavaScript and ISO 8601 write alike (year 0 and before they do not). */
const EARLIEST = Date.parse("0001-01-01T00:00:00.000Z");
const LATEST = Date.parse("9999-12-31T23:59:59.999Z");

builder.scalarType("DateTime", {
  description: "An instant, as an ISO 8601 string in UTC (as input: years 1 to 9999).",
  serialize: (value) => (value instanceof Date ? value.toISOString() : new Date(value).toISOString()),
  parseValue: (value) => {
    const date = new Date(String(value));
    if (typeof value !== "string" || Number.isNaN(date.getTime())) throw new GraphQLError("DateTime must be an ISO 8601 string");
    if (date.getTime() < EARLIEST || date.getTime() > LATEST) throw new GraphQLError("DateTime must fall in the years 1 to 9999");
    return date;
  },
});

function literal(node: ValueNode, variables: Record<string, unknown> | null | undefined): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map((value) => literal(value, variables));
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((field) => [field.name.value, literal(field.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[node.name.value];
    default:
      throw new GraphQLError("Unsupported JSON literal");
  }
}

/** A JSON input (a config, a payload) larger than this is refused: no config needs more, and walking a bigger one would stall the server. */
export const MAX_JSON_INPUT_BYTES = 64 * 1024;
/** Nesting deeper than this is refused for the same reason. */
export const MAX_JSON_INPUT_DEPTH = 10;

/**
 * Measures a JSON input against the caps, stopping as soon as one is
 * passed, so a hostile 10 MB value costs no more than 64 kB of work.
 */
function checkJsonInput(value: unknown): unknown {
  let bytes = 0;
  const walk = (inner: unknown, depth: number): void => {
    if (depth > MAX_JSON_INPUT_DEPTH) throw new GraphQLError(`JSON input nests deeper than ${MAX_JSON_INPUT_DEPTH} levels`);
    if (bytes > MAX_JSON_INPUT_BYTES) throw new GraphQLError(`JSON input is larger than ${MAX_JSON_INPUT_BYTES / 1024} kB`);
    if (typeof inner === "string") bytes += inner.length + 2;
    else if (Array.isArray(inner)) {
      bytes += 2;
      for (const item of inner) walk(item, depth + 1);
    } else if (inner && typeof inner === "object") {
      bytes += 2;
      // for…in, not Object.entries: a 100,000-key object is given up on after a few thousand keys, not copied first.
      for (const key in inner) {
        bytes += key.length + 3;
        walk((inner as Record<string, unknown>)[key], depth + 1);
      }
    } else bytes += 5;
  };
  walk(value, 0);
  if (bytes > MAX_JSON_INPUT_BYTES) throw new GraphQLError(`JSON input is larger than ${MAX_JSON_INPUT_BYTES / 1024} kB`);
  return value;
}

builder.scalarType("JSON", {
  description: `Any JSON value; as input at most ${MAX_JSON_INPUT_BYTES / 1024} kB and ${MAX_JSON_INPUT_DEPTH} levels deep.`,
  serialize: (value) => value,
  parseValue: (value) => checkJsonInput(value),
  parseLiteral: (node, variables) => checkJsonInput(literal(node, variables)),
});
