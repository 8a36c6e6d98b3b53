import { GraphQLError } from "graphql";
import { maskError as yogaMaskError, type MaskError } from "graphql-yoga";
import { ConflictError, ForbiddenError, InputError, NotFoundError } from "../engine/errors.js";
import { IllegalTransitionError } from "../engine/status.js";
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
  | "SERVICE_UNAVAILABLE"
  | "INTERNAL_SERVER_ERROR";

const CONTRACT_CODES = new Set<string>([
  "BAD_USER_INPUT",
  "NOT_FOUND",
  "CONFLICT",
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "RATE_LIMITED",
  "SERVICE_UNAVAILABLE",
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

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, SERVICE_UNAVAILABLE: 503 };

/** What a request that needed the database gets while it is away: nothing was lost, and trying again later will do. */
export function databaseUnavailable(): GraphQLError {
  return userError("SERVICE_UNAVAILABLE", "The database is unavailable; nothing was lost, try again shortly", { reason: "DATABASE_UNAVAILABLE" });
}


/** An expected failure, shown to the client as it is. */
export function userError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  const status = HTTP_STATUS[code];
  return new GraphQLError(message, { extensions: { code, ...extensions, ...(status ? { http: { status } } : {}) } });
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
  if (original instanceof InputError) return userError("BAD_USER_INPUT", original.message, { fields: original.fields });
  if (original instanceof NotFoundError) return userError("NOT_FOUND", original.message);
  if (original instanceof ConflictError) return userError("CONFLICT", original.message);
  if (original instanceof ForbiddenError) return userError("FORBIDDEN", original.message);
  if (isDatabaseUnavailable(original)) {
    reportDatabaseError(original, "api");
    return databaseUnavailable();
  }
  const masked = yogaMaskError(error, message, isDev);
  if (masked instanceof GraphQLError && masked.extensions?.unexpected) {
    logger.error({ err: original }, "unexpected error in a GraphQL operation");
  }
  return masked;
};
