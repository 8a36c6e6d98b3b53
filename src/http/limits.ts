import { maxAliasesPlugin } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthPlugin } from "@escape.tech/graphql-armor-max-depth";
import { maxTokensPlugin } from "@escape.tech/graphql-armor-max-tokens";
import { createComplexityRule } from "@pothos/plugin-complexity";
import { GraphQLError, validate, visit, type DocumentNode, type ExecutionArgs } from "graphql";
import type { Plugin } from "graphql-yoga";
import { isStorable, storableText } from "../engine/storable.js";
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

/**
 * Variables nesting deeper than this are refused before anything walks them
 * (the deepest input is a JSON value of 10 levels inside a list of items
 * inside an input object: about 15).
 */
export const MAX_VARIABLE_DEPTH = 32;

const UNSTORABLE_STRING = "strings may not contain U+0000 or half a surrogate pair (an escape such as \\ud800 alone)";

/** A key as it may be named in an error: without the characters that made it refused. */
const shown = (key: string) => storableText(key, 200);

/**
 * Where a variable value holds a string PostgreSQL cannot store (U+0000, a
 * lone surrogate), or nests too deep; null when it is fine. Iterative, so a
 * value nested 100,000 levels deep is refused here, not by the stack.
 */
function variableProblem(value: unknown): { path: string; problem: string } | null {
  const stack: [unknown, string, number][] = [[value, "variables", 0]];
  while (stack.length > 0) {
    const [inner, path, depth] = stack.pop()!;
    if (typeof inner === "string") {
      if (!isStorable(inner)) return { path, problem: UNSTORABLE_STRING };
      continue;
    }
    if (!inner || typeof inner !== "object") continue;
    if (depth >= MAX_VARIABLE_DEPTH) return { path, problem: `values may not nest deeper than ${MAX_VARIABLE_DEPTH} levels` };
    if (Array.isArray(inner)) {
      for (let index = inner.length - 1; index >= 0; index--) stack.push([inner[index], `${path}.${index}`, depth + 1]);
      continue;
    }
    for (const key of Object.keys(inner).reverse()) {
      if (!isStorable(key)) return { path: `${path}.${shown(key)}`, problem: UNSTORABLE_STRING };
      stack.push([(inner as Record<string, unknown>)[key], `${path}.${key}`, depth + 1]);
    }
  }
  return null;
}

/** The first literal string (an argument written in the document) PostgreSQL cannot store, as the argument's name. */
function unstorableLiteral(document: DocumentNode): string | null {
  let found: string | null = null;
  visit(document, {
    Argument(node) {
      if (found) return false;
      visit(node.value, {
        StringValue(value) {
          if (!isStorable(value.value)) found ??= node.name.value;
        },
      });
      return undefined;
    },
  });
  return found;
}

/**
 * Every string a request gives, in variables or written in the document, is
 * checked here once for what PostgreSQL's text cannot store (U+0000, half a
 * surrogate pair), and variables for their depth: the request is refused as
 * BAD_USER_INPUT naming the place, before any resolver or the database sees it.
 */
function inputError(args: ExecutionArgs): GraphQLError | null {
  const inVariables = variableProblem(args.variableValues ?? {});
  const literal = inVariables ? null : unstorableLiteral(args.document);
  const where = inVariables ?? (literal ? { path: literal, problem: UNSTORABLE_STRING } : null);
  if (!where) return null;
  return userError("BAD_USER_INPUT", `${where.path}: ${where.problem}`, { fields: [where.path.replace(/^variables\./, "")] });
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
