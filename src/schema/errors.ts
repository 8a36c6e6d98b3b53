import { GraphQLError } from "graphql";
import { maskError as yogaMaskError, type MaskError } from "graphql-yoga";
import { z } from "zod";
import { IllegalTransitionError } from "../core/status.js";
import { isDatabaseUnavailable, reportDatabaseError } from "../db/availability.js";
import { logger } from "../logger.js";

/** The `extensions.code` values of the contract. */
export type ErrorCode =
  | "BAD_USER_INPUT"
  | "NOT_FOUND"
  | "CONFLICT"
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "RATE_LIMITED"
  | "INTERNAL_SERVER_ERROR";

const CONTRACT_CODES = new Set<string>([
  "BAD_USER_INPUT",
  "NOT_FOUND",
  "CONFLICT",
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "RATE_LIMITED",
  "INTERNAL_SERVER_ERROR",
] satisfies ErrorCode[]);

/**
 * Request errors raised by graphql-js and Yoga before any resolver runs
 * (syntax, unknown fields, variables of the wrong type, the depth limit)
 * carry no code or one of Yoga's own; they are the client's input, so they
 * become BAD_USER_INPUT and every error a client sees has a contract code.
 */
export function withContractCode<E extends { extensions?: Record<string, unknown> | null; message: string }>(error: E): E {
  const code = error.extensions?.code;
  if (typeof code === "string" && CONTRACT_CODES.has(code)) return error;
  const extensions = { ...error.extensions, code: "BAD_USER_INPUT", ...(code ? { reason: code } : {}) };
  return error instanceof GraphQLError
    ? (new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, originalError: error.originalError, extensions }) as unknown as E)
    : { ...error, extensions };
}

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = { UNAUTHENTICATED: 401, FORBIDDEN: 403 };


/** An expected failure, shown to the client as it is. */
export function userError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  const status = HTTP_STATUS[code];
  return new GraphQLError(message, { extensions: { code, ...extensions, ...(status ? { http: { status } } : {}) } });
}

export function notFound(what: string, id: string | number): GraphQLError {
  return userError("NOT_FOUND", `${what} ${id} does not exist`);
}

/** zod issues as `field.path: message` lines, the form every BAD_USER_INPUT uses. */
function describeIssues(error: z.ZodError, prefix: (string | number)[]): { fields: string[]; message: string } {
  const fields = error.issues.map((issue) => [...prefix, ...issue.path].map(String).join(".") || "input");
  const lines = error.issues.map((issue, index) => `${fields[index]}: ${issue.message}`);
  return { fields: [...new Set(fields)], message: `Invalid input: ${lines.join("; ")}` };
}

/** Validates a mutation's input; failures become BAD_USER_INPUT naming the fields. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, path: (string | number)[] = []): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const { fields, message } = describeIssues(parsed.error, path);
  throw userError("BAD_USER_INPUT", message, { fields });
}

const INT4_MAX = 2 ** 31 - 1;
const INT8_MAX = 2n ** 63n - 1n;
/** Decimal digits only: "0x10", "1e3", " 7" and "+7" are not ids, whatever Number() makes of them. */
const idSchema = z
  .string()
  .regex(/^[1-9][0-9]{0,9}$/, "must be a positive whole number in decimal digits")
  .transform(Number)
  .refine((id) => id <= INT4_MAX, `must be at most ${INT4_MAX}`);
const eventIdSchema = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,18})$/, "must be an event id (decimal digits)")
  .transform(BigInt)
  .refine((id) => id <= INT8_MAX, `must be at most ${INT8_MAX}`);

/**
 * Every ID argument of every resolver passes here: database ids are
 * integers, and an ID that is not one, or is out of the column's range, is
 * bad input, not NOT_FOUND (and never a database error).
 */
export function parseId(id: string | number, argument = "id"): number {
  return parseInput(idSchema, String(id), [argument]);
}

/** An event id (a 64-bit sequence value), e.g. a subscription's `after`. */
export function parseEventId(id: string | number, argument = "after"): bigint {
  return parseInput(eventIdSchema, String(id), [argument]);
}

/**
 * Yoga's error masking: contract errors pass, domain errors thrown deeper
 * get their code here (one place, not a try/catch per resolver), and
 * anything else is logged with its stack and shown only as
 * INTERNAL_SERVER_ERROR.
 */
export const maskError: MaskError = (
  error,
  message,
  isDev,
) => {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof IllegalTransitionError) {
    return userError("CONFLICT", original.message, { from: original.from, to: original.to });
  }
  if (isDatabaseUnavailable(original)) {
    reportDatabaseError(original, "api");
    return userError("INTERNAL_SERVER_ERROR", "The database is unavailable; nothing was lost, try again shortly", { reason: "DATABASE_UNAVAILABLE", http: { status: 503 } });
  }
  const masked = yogaMaskError(error, message, isDev);
  if (masked instanceof GraphQLError && masked.extensions?.unexpected) {
    logger.error({ err: original }, "unexpected error in a GraphQL operation");
  }
  return masked;
};
