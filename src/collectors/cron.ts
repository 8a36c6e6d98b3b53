import cronParser from "cron-parser";

/**
 * Why a cron expression is refused, or null when it is one pg-boss runs:
 * five fields (minute hour day month weekday), in UTC. pg-boss fires a
 * schedule at most once a minute, so a sixth (seconds) field would promise
 * what it cannot keep.
 */
export function cronRefusal(cron: string): string | null {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5) return `"${cron.slice(0, 100)}" is not a cron expression of five fields (minute hour day month weekday, UTC), e.g. "0 * * * *"`;
  try {
    cronParser.parseExpression(cron, { tz: "UTC" });
    return null;
  } catch (error) {
    return `"${cron.slice(0, 100)}" is not a valid cron expression: ${(error as Error).message}`;
  }
}

/** When a valid cron expression fires next after `from` (UTC). */
export function nextFireAt(cron: string, from = new Date()): Date {
  return cronParser.parseExpression(cron, { tz: "UTC", currentDate: from }).next().toDate();
}
