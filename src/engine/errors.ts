import { z } from "zod";

/**
 * The failures a caller can fix, raised by domain code without knowing
 * about GraphQL; src/schema/errors.ts gives each its contract code
 * (BAD_USER_INPUT, NOT_FOUND, CONFLICT, FORBIDDEN).
 */

/** Input that does not fit: `fields` are the paths at fault, e.g. ["input.config.url"]. */
export class InputError extends Error {
  override name = "InputError";
  constructor(
    message: string,
    readonly fields: string[],
  ) {
    super(message);
  }
}

export class NotFoundError extends Error {
  override name = "NotFoundError";
  constructor(what: string, id: string | number) {
    super(`${what} ${id} does not exist`);
  }
}

/** The request cannot be done in the state the work is in (other than an illegal status change, see IllegalTransitionError). */
export class ConflictError extends Error {
  override name = "ConflictError";
}

/** The viewer may not do this to this thing (e.g. delete another's comment). */
export class ForbiddenError extends Error {
  override name = "ForbiddenError";
}

/** zod issues as `field.path: message` lines, the form every InputError uses. */
function describeIssues(error: z.ZodError, prefix: (string | number)[]): { fields: string[]; message: string } {
  const fields = error.issues.map((issue) => [...prefix, ...issue.path].map(String).join(".") || "input");
  const lines = error.issues.map((issue, index) => `${fields[index]}: ${issue.message}`);
  return { fields: [...new Set(fields)], message: `Invalid input: ${lines.join("; ")}` };
}

/** Validates input with zod; a failure is an InputError naming the fields. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, path: (string | number)[] = []): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const { fields, message } = describeIssues(parsed.error, path);
  throw new InputError(message, fields);
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
