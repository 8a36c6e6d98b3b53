import { isDatabaseUnavailable } from "../db/availability.js";
import { redactText } from "../secrets.js";

const MAX_LENGTH = 300;

/**
 * What an unexpected error may say where users read it (an import's
 * lastError, a LOG event): its class and one short line, never a stack,
 * a file path or Prisma's quoted call site ("Invalid `prisma.x()`
 * invocation in /path…"). The whole error goes to the process log.
 */
export function describeError(error: unknown): string {
  if (isDatabaseUnavailable(error)) return "Database unavailable: the connection was refused or lost";
  const code = (error as { code?: unknown })?.code;
  const text = error instanceof Error ? error.message : String(error);
  // Prisma puts its own explanation on the last line, after the quoted call site.
  const line =
    text
      .split("\n")
      .map((part) => part.trim())
      .filter((part) => part && !/invocation( in)?:?$/.test(part) && !/^\d+\s/.test(part) && !part.startsWith("→"))
      .at(-1) ?? "";
  const clean = redactText(line.replace(/(file:\/\/)?\/[\w./@-]+\.(m?[jt]s|cjs)(:\d+){0,2}/g, "[file]")).slice(0, MAX_LENGTH);
  const isDatabase = typeof code === "string" && /^P\d{4}$/.test(code);
  return `${isDatabase ? `Database error ${code}` : "Internal error"}: ${clean || (error as Error)?.name || "unknown"}`;
}
