import { Prisma, type Import } from "../../generated/prisma/client.js";
import type { CheckpointedKind } from "../../engine/checkpointed/kind.js";
import { getSource } from "../../registry.js";
import { IMPORT_KIND, importQueue } from "./kind.js";
import { runPages } from "./pages.js";
import { runTree } from "./tree.js";
import { importUnitWrites, type ImportUnit } from "./unit.js";

/** Unexpected failures in a row (a bug) that are retried before an import fails: the third fails it. */
const CRASH_RETRIES = 2;
/** The wait before a crashed import runs again, times the crashes in a row: five retry delays (5 s by default). */
const CRASH_BACKOFF_RETRY_DELAYS = 5;

/**
 * Imports as the engine runs them (src/engine/checkpointed/): a run is the
 * pages of a FLAT source from the committed cursor, or the walk of a TREE
 * source's nodes; a unit the pages since the last checkpoint. An import
 * whose worker died continues from its last checkpoint; one that crashed is
 * retried twice, then fails.
 */
export const importer: CheckpointedKind<Import, ImportUnit, { importId: number }> = {
  work: IMPORT_KIND,
  noun: "import",
  queue: importQueue,
  payload: (id) => ({ importId: id }),
  idOf: (payload) => payload.importId,
  lost: { to: "PENDING", reason: "its worker stopped responding; continuing from the last checkpoint" },
  crash: { retries: CRASH_RETRIES, backoffMs: (config) => config.RETRY_DELAY_MS * CRASH_BACKOFF_RETRY_DELAYS },
  // Every claim after the first start counts as a resume; a wait is over once claimed.
  claimSet: Prisma.sql`"waitingOn" = NULL, "resumeCount" = t."resumeCount" + (t."startedAt" IS NOT NULL)::int`,
  failed: (reason) => Prisma.sql`"lastError" = ${reason}`,
  unit: importUnitWrites,
  async run(row, ctx) {
    const source = getSource(row.source);
    if (!source) return { ending: { to: "FAILED", reason: `The source "${row.source}" is not registered on this worker (is it in MILEPOST_PLUGINS?)` } };
    const config = source.config.safeParse(row.config);
    if (!config.success) return { ending: { to: "FAILED", reason: `The config no longer fits the source "${row.source}": ${config.error.message}` } };
    return source.shape === "TREE" ? runTree(source, config.data, ctx) : runPages(source, config.data, ctx);
  },
};
