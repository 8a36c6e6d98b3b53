import { z } from "zod";
import { Prisma, type Import } from "../../generated/prisma/client.js";
import { prisma, type Tx } from "../../db/client.js";
import { dbNowPlus } from "../../engine/clock.js";
import { openUpstream } from "../../engine/cooldowns.js";
import { recordEvent } from "../../engine/events.js";
import { canonicalJson, sha256 } from "../../engine/json.js";
import { assertSecretsAllowed, SecretNotAllowedError } from "../../secrets.js";
import { transition } from "../../engine/move.js";
import { IllegalTransitionError } from "../../engine/status.js";
import { requestStop, withdrawPause } from "../../engine/stop.js";
import { InputError, NotFoundError, parseInput } from "../../engine/errors.js";
import { getSource, listSources } from "../../registry.js";
import { lockRow } from "../../engine/lease.js";
import { IMPORT_KIND, importQueue } from "./kind.js";

export const startImportInput = z.object({
  source: z.string().min(1),
  name: z.string().trim().min(1).max(200).nullish(),
  config: z.unknown(),
  dataset: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, "letters, digits and . _ : - (at most 100), starting with a letter or digit")
    .nullish(),
  maxPages: z.number().int().min(1).max(10_000_000).nullish(),
  checkpointEvery: z.number().int().min(1).max(1000).nullish(),
  resumeExisting: z.boolean().nullish(),
});

/** Unfinished: may still run, or be resumed. */
const UNFINISHED = ["PENDING", "RUNNING", "WAITING", "PAUSED", "FAILED"] as const;

/**
 * Starts an import, or, with resumeExisting (the default), returns the
 * unfinished import of the same source, dataset and config, resumed if it
 * was paused or failed. The row and its first job commit together.
 */
export async function startImport(raw: unknown, defaultCheckpointEvery: number): Promise<Import> {
  const input = parseInput(startImportInput, raw, ["input"]);
  const source = getSource(input.source);
  if (!source) {
    const known = listSources().map((s) => s.name).join(", ");
    throw new InputError(`Unknown source "${input.source}"; known: ${known}`, ["input.source"]);
  }
  const config = parseInput(source.config, input.config ?? {}, ["input", "config"]) as Prisma.InputJsonValue;
  try {
    assertSecretsAllowed(config);
  } catch (error) {
    if (!(error instanceof SecretNotAllowedError)) throw error;
    throw new InputError(error.message, [["input", "config", ...error.path].join(".")]);
  }
  const dataset = input.dataset ?? source.name;
  const configKey = sha256(canonicalJson({ source: source.name, dataset, config }));
  const row = await prisma().$transaction(async (tx) => {
    // Serialises starts of the same config, so two clients cannot start twins.
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${configKey}))`;
    if (input.resumeExisting !== false) {
      const existing = await tx.import.findFirst({ where: { configKey, status: { in: [...UNFINISHED] } }, orderBy: { id: "desc" } });
      if (existing) return ["PAUSED", "FAILED"].includes(existing.status) ? requeue(tx, existing, "resumed by startImport") : existing;
    }
    const created = await tx.import.create({
      data: {
        name: input.name ?? `${source.name} ${new Date().toISOString().slice(0, 16).replace("T", " ")}`,
        source: source.name,
        dataset,
        config,
        configKey,
        checkpointEvery: input.checkpointEvery ?? defaultCheckpointEvery,
        maxPages: input.maxPages ?? null,
      },
    });
    await recordEvent(tx, { kind: "STATUS", subjectKind: IMPORT_KIND.subject, subjectId: created.id, from: null, to: "PENDING", reason: "created" });
    await importQueue.send({ importId: created.id }, { tx });
    return created;
  });
  importQueue.wake();
  return row;
}

/** PAUSED/FAILED/WAITING → PENDING with a job to run it now. */
async function requeue(tx: Tx, row: Import, reason: string): Promise<Import> {
  // Why it failed or waited is history now (in its events); lastError goes back to the last error it recorded.
  const updated = await transition<Import>(tx, IMPORT_KIND, {
    id: row.id,
    from: row.status,
    to: "PENDING",
    reason,
    set: Prisma.sql`"resumeAt" = NULL, "waitingOn" = NULL, "crashCount" = 0, "failureStreak" = 0,
      "lastError" = (SELECT message FROM "ImportError" WHERE "importId" = t.id ORDER BY id DESC LIMIT 1)`,
  });
  await importQueue.send({ importId: row.id }, { tx });
  return updated;
}

/** Runs `change` on the locked row; NOT_FOUND when there is none. */
async function withImport(id: number, change: (tx: Tx, row: Import) => Promise<Import>): Promise<Import> {
  return prisma().$transaction(async (tx) => {
    const row = await lockRow<Import>(tx, IMPORT_KIND, id);
    if (!row) throw new NotFoundError("Import", id);
    return change(tx, row);
  });
}

/**
 * A running import is asked to stop: its worker stops at once (the notice
 * aborts its request in flight) and commits what it fetched, ending PAUSED
 * or CANCELLED; one that is not running stops now. Asking again changes
 * nothing.
 */
async function stopImport(id: number, to: "PAUSED" | "CANCELLED"): Promise<Import> {
  const flag = to === "PAUSED" ? "pause" : "cancel";
  return withImport(id, async (tx, row) => {
    if (row.status === to) return row;
    const { flagged, moved } = await requestStop<Import>(tx, IMPORT_KIND, Prisma.sql`id = ${id}`, flag, to === "PAUSED" ? "paused on request" : "cancelled on request");
    if (flagged.length > 0) {
      await recordEvent(tx, { kind: "LOG", subjectKind: IMPORT_KIND.subject, subjectId: id, level: "INFO", message: `${flag} requested; stopping at the next checkpoint` });
    }
    return moved[0] ?? (await lockRow<Import>(tx, IMPORT_KIND, id))!;
  });
}

export const pauseImport = (id: number) => stopImport(id, "PAUSED");
export const cancelImport = (id: number) => stopImport(id, "CANCELLED");

/** PAUSED, FAILED or WAITING imports run again from their last checkpoint; a PENDING or RUNNING one keeps going (a pause asked for is taken back). */
export async function resumeImport(id: number): Promise<Import> {
  const resumed = await withImport(id, async (tx, row) => {
    if (row.status === "PENDING" || row.status === "RUNNING") {
      return (await withdrawPause(tx, IMPORT_KIND, id)) ? (await lockRow<Import>(tx, IMPORT_KIND, id))! : row;
    }
    if (!["PAUSED", "FAILED", "WAITING"].includes(row.status)) throw new IllegalTransitionError(IMPORT_KIND.subject, id, row.status, "PENDING");
    return requeue(tx, row, "resumed on request");
  });
  importQueue.wake();
  return resumed;
}

/** Like resume, but a WAITING import's rate-limit cooldown is lifted too, for every import of that upstream. */
export async function retryImportNow(id: number): Promise<Import> {
  const row = await prisma().import.findUnique({ where: { id } });
  if (!row) throw new NotFoundError("Import", id);
  if (row.waitingOn) await openUpstream(row.waitingOn);
  return resumeImport(id);
}

/**
 * Deletes FAILED and CANCELLED imports (with their errors and events) last
 * changed more than `days` ago; their records stay. One statement, so an
 * import resumed meanwhile (no longer FAILED) is never deleted.
 */
export async function cleanupFailedImports(days: number): Promise<number> {
  const [{ count }] = await prisma().$queryRaw<{ count: number }[]>`
    WITH doomed AS (
      DELETE FROM "Import" WHERE status IN ('FAILED', 'CANCELLED') AND "updatedAt" < ${dbNowPlus(-days * 86_400_000)} RETURNING id
    ), events AS (
      DELETE FROM "Event" WHERE "subjectKind" = 'IMPORT' AND "subjectId" IN (SELECT id FROM doomed)
    )
    SELECT count(*)::int AS count FROM doomed`;
  return count;
}
