import type { Import } from "../generated/prisma/client.js";
import { prisma } from "../db/client.js";

/** How long a read stays shared after it settled: long enough for every subscriber of one event. */
const SHARE_MS = 1000;
const reads = new Map<number, { eventId: bigint; row: Promise<Import | null> }>();

/**
 * The import as it stands after event `eventId`, read once however many
 * subscribers ask: a dashboard of 500 watching one import costs one query per
 * event, not 500. A read started after a later event of the same import is
 * as good (events arrive only after their transaction committed).
 */
export function importAfterEvent(id: number, eventId: string): Promise<Import | null> {
  const after = BigInt(eventId);
  const shared = reads.get(id);
  if (shared && shared.eventId >= after) return shared.row;
  const row = prisma().import.findUnique({ where: { id } });
  reads.set(id, { eventId: after, row });
  const forget = () => {
    setTimeout(() => {
      if (reads.get(id)?.row === row) reads.delete(id);
    }, SHARE_MS).unref();
  };
  row.then(forget, forget);
  return row;
}
