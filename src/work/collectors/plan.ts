import type { YearPlan } from "../../collectors/types.js";

const DAY_MS = 86_400_000;
/** The widest window a run may plan: a millennium of years is a mistake, not a data set. */
const MAX_YEARS = 1000;

export interface YearsAsked {
  start: number;
  end?: number;
  maxAgeDays?: number;
}

/**
 * The years a run fetches, and why each was chosen or left out: this year
 * and the last always (their data still changes); an older one when no
 * successful run fetched it, or the last that did was more than `maxAgeDays`
 * ago (0: every one); all on a full refresh. `fetched` is when each year was
 * last fetched by a successful run; the run's own maxAgeDays wins over the
 * collector's.
 */
export function planYears(asked: YearsAsked, run: { fullRefresh: boolean; maxAgeDays: number | null }, fetched: Record<string, Date>, now = new Date()): YearPlan {
  const current = now.getUTCFullYear();
  const end = asked.end ?? current;
  if (!Number.isInteger(asked.start) || !Number.isInteger(end) || asked.start < 1 || end > 9999 || asked.start > end || end - asked.start >= MAX_YEARS) {
    throw new RangeError(`plan.years: start and end must be whole years, start <= end, at most ${MAX_YEARS} of them (got ${asked.start} to ${end})`);
  }
  const maxAgeDays = run.maxAgeDays ?? asked.maxAgeDays;
  const years: number[] = [];
  const why: Record<string, string> = {};
  for (let year = asked.start; year <= end; year++) {
    const at = fetched[String(year)];
    const ageDays = at ? Math.floor((now.getTime() - at.getTime()) / DAY_MS) : null;
    const age = ageDays === null ? "never fetched" : `fetched ${ageDays === 0 ? "today" : ageDays === 1 ? "1 day ago" : `${ageDays} days ago`}`;
    const limit = maxAgeDays === undefined ? "no max age" : `max age ${maxAgeDays}`;
    let reason: string | null;
    if (run.fullRefresh) reason = "full refresh";
    else if (year >= current - 1) reason = year === current ? "the current year" : "the previous year";
    else if (ageDays === null) reason = "never fetched";
    else if (maxAgeDays !== undefined && now.getTime() - at!.getTime() > maxAgeDays * DAY_MS) reason = `${age}, ${limit}`;
    else reason = null;
    if (reason !== null) years.push(year);
    why[String(year)] = reason ?? `skipped: ${age}, ${limit}`;
  }
  return { years, why };
}
