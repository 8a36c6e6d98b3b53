import { maxAliasesPlugin } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthPlugin } from "@escape.tech/graphql-armor-max-depth";
import { maxTokensPlugin } from "@escape.tech/graphql-armor-max-tokens";
import { createComplexityRule } from "@pothos/plugin-complexity";
import { GraphQLError, validate, visit, type DocumentNode, type ExecutionArgs } from "graphql";
import type { Plugin } from "graphql-yoga";
import { userError } from "../schema/errors.js";

/** A GraphQL document larger than this is refused before it is parsed. */
export const MAX_DOCUMENT_BYTES = 100 * 1024;
/** Deeper selections are refused: no contract query needs more than 8 levels. */
export const MAX_DEPTH = 15;
/** Aliases per operation: enough for a dashboard's side-by-side queries, far from an alias bomb. */
export const MAX_ALIASES = 20;
/** Lexical tokens per document: GraphiQL's introspection query has about 300. */
export const MAX_TOKENS = 3000;
/**
 * The estimated cost of an operation: every field costs 1 and a list or
 * connection multiplies what is selected under it by the items asked for
 * (`first`, else its default page). One `records(first: 1000)` with a few
 * fields costs about 8,000; twenty of them are refused before a row is read.
 */
export const MAX_COMPLEXITY = 25_000;
/**
 * The whole HTTP body (document plus variables) is capped higher than the
 * document alone, since a batch enqueue carries its items as variables.
 */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** One WebSocket message (a subscribe with its variables). */
export const MAX_WS_MESSAGE_BYTES = 1024 * 1024;

/** Refuses a document over MAX_DOCUMENT_BYTES before the parser sees it (HTTP, SSE and WebSockets alike). */
function useDocumentSize(): Plugin {
  return {
    onParse({ params }) {
      const source = typeof params.source === "string" ? params.source : params.source.body;
      if (Buffer.byteLength(source) > MAX_DOCUMENT_BYTES) {
        throw userError("BAD_USER_INPUT", `The GraphQL document is larger than ${MAX_DOCUMENT_BYTES / 1024} kB`, { http: { status: 413 } });
      }
    },
  };
}

/** `{"query": 5}` is the client's mistake, said as such rather than failing inside the server. */
function useQueryIsString(): Plugin {
  return {
    onParams({ params }) {
      if (params.query !== undefined && typeof params.query !== "string") {
        throw userError("BAD_USER_INPUT", "`query` must be a string holding a GraphQL document", { http: { status: 400 } });
      }
      if (params.operationName != null && typeof params.operationName !== "string") {
        throw userError("BAD_USER_INPUT", "`operationName` must be a string", { http: { status: 400 } });
      }
      if (params.variables != null && (typeof params.variables !== "object" || Array.isArray(params.variables))) {
        throw userError("BAD_USER_INPUT", "`variables` must be an object", { http: { status: 400 } });
      }
    },
  };
}

/** The path of the first string holding U+0000 in a variable value, or null. */
function nulPath(value: unknown, path: string): string | null {
  if (typeof value === "string") return value.includes("\0") ? path : null;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const found = nulPath(value[index], `${path}.${index}`);
      if (found) return found;
    }
  } else if (value && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      if (key.includes("\0")) return `${path}.${key.replace(/\0/g, "\\0")}`;
      const found = nulPath(inner, `${path}.${key}`);
      if (found) return found;
    }
  }
  return null;
}

/** The first literal string (an argument written in the document) holding U+0000, as the argument's name. */
function nulLiteral(document: DocumentNode): string | null {
  let found: string | null = null;
  visit(document, {
    Argument(node) {
      if (found) return false;
      visit(node.value, {
        StringValue(value) {
          if (value.value.includes("\0")) found ??= node.name.value;
        },
      });
      return undefined;
    },
  });
  return found;
}

/**
 * Every string a request gives, in variables or written in the document, is
 * checked here once for U+0000, which PostgreSQL's text cannot store: the
 * request is refused as BAD_USER_INPUT naming the place, before any resolver
 * or the database sees it.
 */
function inputError(args: ExecutionArgs): GraphQLError | null {
  const inVariables = nulPath(args.variableValues ?? {}, "variables");
  const where = inVariables ?? (nulLiteral(args.document) ?? null);
  if (!where) return null;
  return userError("BAD_USER_INPUT", `${where}: strings may not contain the character U+0000`, { fields: [where.replace(/^variables\./, "")] });
}

/** The operation's estimated cost (see MAX_COMPLEXITY), computed from the schema's field complexities and the variables. */
function costError(args: ExecutionArgs): GraphQLError | null {
  let complexity = 0;
  const rule = createComplexityRule({
    context: args.contextValue as object,
    variableValues: (args.variableValues ?? {}) as Record<string, unknown>,
    operationName: args.operationName,
    // Only the cost is judged here; variables of the wrong type are execution's to report, as usual.
    validate: (result) => void (complexity = Math.max(complexity, result.complexity)),
  });
  validate(args.schema, args.document, [rule]);
  if (complexity <= MAX_COMPLEXITY) return null;
  return userError("BAD_USER_INPUT", `Query complexity of ${complexity} exceeds max complexity of ${MAX_COMPLEXITY}: ask for fewer items (first) or fewer fields`, {
    reason: "COST_LIMIT",
  });
}

/** Checks that need the variables run where both HTTP and WebSocket operations pass: execute and subscribe. */
function useOperationChecks(): Plugin {
  const check = (args: ExecutionArgs, stop: (result: { errors: GraphQLError[] }) => void) => {
    const error = inputError(args) ?? costError(args);
    if (error) stop({ errors: [error] });
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      check(args, setResultAndStopExecution);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      check(args, setResultAndStopExecution);
    },
  };
}

/**
 * The limits on documents and operations, applied identically over HTTP,
 * server-sent events and WebSockets (all go through Yoga's envelop). Every
 * refusal is BAD_USER_INPUT and is decided before a resolver runs.
 */
export function useDocumentLimits(): Plugin[] {
  return [
    useQueryIsString(),
    useDocumentSize(),
    maxTokensPlugin({ n: MAX_TOKENS }) as Plugin,
    maxDepthPlugin({ n: MAX_DEPTH, ignoreIntrospection: true, flattenFragments: true, exposeLimits: true }) as Plugin,
    maxAliasesPlugin({ n: MAX_ALIASES, exposeLimits: true }) as Plugin,
    useOperationChecks(),
  ];
}
