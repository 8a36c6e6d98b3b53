import { z } from "zod";
import { Prisma } from "../../generated/prisma/client.js";
import type { WorkKind } from "../../engine/kind.js";
import { declareQueue } from "../../engine/queues.js";

/** Imports, to the engine: their rows are in "Import"; a running import obeys pause and cancel. */
export const IMPORT_KIND = {
  subject: "IMPORT",
  table: "Import",
  flags: ["pauseRequested", "cancelRequested"],
  columns: Object.values(Prisma.ImportScalarFieldEnum),
} as const satisfies WorkKind;

/**
 * The pg-boss queue whose jobs run (or continue) imports, one job an
 * attempt. Retries are the engine's own (a crash count on the row, the
 * sweep for stale leases), so pg-boss does not retry; a job may run for
 * hours, hence the long expiry.
 */
export const importQueue = declareQueue({
  name: "import-run",
  payload: z.object({ importId: z.number().int().positive() }),
  options: { policy: "standard", retryLimit: 0, expireInHours: 23, retentionDays: 7 },
});
