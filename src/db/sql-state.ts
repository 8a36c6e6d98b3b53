/**
 * What PostgreSQL said of a failed statement, whichever layer carries it: a
 * pg DatabaseError, or Prisma's error wrapping its driver adapter's. Errors
 * are told apart by their SQLSTATE and, for a constraint, its name, never
 * by their message (which the server's lc_messages may translate).
 */
interface Carried {
  code?: unknown;
  constraint?: unknown;
  originalCode?: unknown;
  meta?: { driverAdapterError?: { cause?: { originalCode?: unknown; constraint?: { index?: unknown } } } };
}

/** The SQLSTATE of a database error, if it is one. */
export function sqlStateOf(error: unknown): string | undefined {
  if (!error || typeof error !== "object") return undefined;
  const carried = error as Carried;
  const cause = carried.meta?.driverAdapterError?.cause;
  const code = cause?.originalCode ?? carried.originalCode ?? carried.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** The constraint or index a unique, foreign-key or exclusion violation names, if it does. */
export function constraintOf(error: unknown): string | undefined {
  if (!error || typeof error !== "object") return undefined;
  const carried = error as Carried;
  const name = carried.meta?.driverAdapterError?.cause?.constraint?.index ?? carried.constraint;
  return typeof name === "string" ? name : undefined;
}

/** Whether the error is the violation of this unique index or constraint (SQLSTATE 23505). */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  return sqlStateOf(error) === "23505" && constraintOf(error) === constraint;
}
