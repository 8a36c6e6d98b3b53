import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Import } from "../src/generated/prisma/client.js";
import { prisma } from "../src/db/client.js";
import { applyCheckpoint, checkpointStatement, LeaseLostError } from "../src/engine/checkpointed/checkpoint.js";
import { importer } from "../src/work/imports/importer.js";
import { emptyUnit, type ImportUnit } from "../src/work/imports/unit.js";
import { importAfterEvent } from "../src/schema/import.js";
import type { SourceRecord } from "../src/sources/types.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// An api-only server: no worker picks the rows up, so the checkpoints here are the only writers.
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MILEPOST_ROLE: "api" });
});
afterAll(() => server.stop());

async function runningImport(dataset: string, owner: string): Promise<Import> {
  return prisma().import.create({
    data: { name: dataset, source: "http-json", dataset, config: {}, configKey: dataset, checkpointEvery: 1, status: "RUNNING", leaseOwner: owner, leaseAt: new Date() },
  });
}

const batch = (records: SourceRecord[], page: number): ImportUnit => ({
  ...emptyUnit({ failureStreak: 0, activeSeconds: 0 }),
  pages: 1,
  records,
  cursor: { page: page + 1 },
  path: [{ level: "page", index: page }],
});

/** Commits a unit as a worker's attempt `owner` does: the row as it is after, or LeaseLostError. */
async function commitCheckpoint(row: Import, owner: string, unit: ImportUnit): Promise<Import> {
  const applied = await applyCheckpoint<Import>(prisma(), checkpointStatement(importer, row, owner, importer.unit(row, unit)));
  if (applied.outcome !== "applied") throw new LeaseLostError(applied.outcome);
  return applied.row;
}
const stored = (dataset: string) => prisma().importedRecord.findMany({ where: { dataset }, orderBy: { externalId: "asc" }, select: { externalId: true, data: true } });
const checkpoints = (id: number) => prisma().event.findMany({ where: { kind: "CHECKPOINT", subjectKind: "IMPORT", subjectId: id } });

describe("a checkpoint", () => {
  it("counts what the database wrote: content compared as jsonb, key order ignored, an id twice counted once", async () => {
    let row = await runningImport("cp-counts", "w1");
    row = await commitCheckpoint(
      row,
      "w1",
      batch(
        [
          { externalId: "a", data: { title: "A", year: 1 } },
          { externalId: "b", data: { title: "B", year: 2 } },
          { externalId: "c", data: { title: "C0", year: 3 } },
          { externalId: "c", data: { title: "C", year: 3 } },
        ],
        1,
      ),
    );
    expect(row).toMatchObject({ itemsProcessed: 3, itemsNew: 3, itemsUpdated: 0, itemsUnchanged: 0, pagesDone: 1, cursor: { page: 2 } });
    expect((await stored("cp-counts")).map((record) => record.data)).toEqual([
      { title: "A", year: 1 },
      { title: "B", year: 2 },
      { title: "C", year: 3 },
    ]);

    // Same content in another key order: unchanged. One real change: updated. One new id: new.
    row = await commitCheckpoint(
      row,
      "w1",
      batch(
        [
          { externalId: "a", data: { year: 1, title: "A" } },
          { externalId: "b", data: { title: "B (new cut)", year: 2 } },
          { externalId: "d", data: { title: "D", year: 4 } },
        ],
        2,
      ),
    );
    expect(row).toMatchObject({ itemsProcessed: 6, itemsNew: 4, itemsUpdated: 1, itemsUnchanged: 1, pagesDone: 2, cursor: { page: 3 } });
    expect(row.itemsNew + row.itemsUpdated + row.itemsUnchanged).toBe(row.itemsProcessed);
    const events = await checkpoints(row.id);
    expect(events).toHaveLength(1); // only the last checkpoint is kept
    expect(events[0].payload).toMatchObject({ checkpoint: { position: { page: 3 }, path: [{ level: "page", index: 2 }] } });
  });

  it("writes nothing at all when another worker holds the lease", async () => {
    let row = await runningImport("cp-lease", "w1");
    row = await commitCheckpoint(row, "w1", batch([{ externalId: "a", data: { n: 1 } }], 1));
    const before = await checkpoints(row.id);
    await prisma().import.update({ where: { id: row.id }, data: { leaseOwner: "w2" } }); // taken over

    await expect(
      commitCheckpoint(row, "w1", batch([{ externalId: "a", data: { n: 2 } }, { externalId: "b", data: { n: 1 } }], 2)),
    ).rejects.toBeInstanceOf(LeaseLostError);

    expect(await stored("cp-lease")).toEqual([{ externalId: "a", data: { n: 1 } }]);
    expect(await prisma().import.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({ itemsProcessed: 1, pagesDone: 1, cursor: { page: 2 }, leaseOwner: "w2" });
    expect(await checkpoints(row.id)).toEqual(before);
  });

  it("sent again after its answer was lost, applies once: the second sending finds it applied and writes nothing", async () => {
    const row = await runningImport("cp-twice", "w1");
    const statement = checkpointStatement(importer, row, "w1", importer.unit(row, batch([{ externalId: "a", data: { n: 1 } }, { externalId: "b", data: { n: 2 } }], 1)));
    const first = await applyCheckpoint<Import>(prisma(), statement);
    expect(first).toMatchObject({ outcome: "applied", row: { checkpointSeq: 1, checkpointBy: "w1", pagesDone: 1, itemsNew: 2 } });
    const events = await checkpoints(row.id);
    expect(await applyCheckpoint<Import>(prisma(), statement)).toEqual({ outcome: "already" });
    expect(await prisma().import.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({ checkpointSeq: 1, pagesDone: 1, itemsProcessed: 2, itemsNew: 2, itemsUnchanged: 0 });
    expect(await checkpoints(row.id)).toEqual(events);
    // The same unit from another attempt at the old sequence is not this attempt's: lost, nothing written.
    const other = checkpointStatement(importer, row, "w2", importer.unit(row, batch([{ externalId: "c", data: { n: 3 } }], 1)));
    expect(await applyCheckpoint<Import>(prisma(), other)).toEqual({ outcome: "lost" });
    expect((await stored("cp-twice")).map((record) => record.externalId)).toEqual(["a", "b"]);
  });
});

describe("a record PostgreSQL cannot store", () => {
  it("is stored with U+FFFD in place of what cannot be, and recorded as an error; the rest of the checkpoint commits", async () => {
    let row = await runningImport("cp-nul", "w1");
    row = await commitCheckpoint(
      row,
      "w1",
      batch(
        [
          { externalId: "ok", data: { title: "fine" } },
          { externalId: "nul", data: { tags: ["a\u0000b"] } },
          { externalId: "surrogate", data: { title: "half a pair: \ud800" } },
          { externalId: "text", data: { note: "the six characters \\u0000 are fine" } },
        ],
        4,
      ),
    );
    expect(row).toMatchObject({ itemsProcessed: 4, itemsNew: 4, errorCount: 2, pagesDone: 1 });
    expect(row.lastError).toContain('Item "surrogate"');
    expect((await stored("cp-nul")).map((record) => [record.externalId, record.data])).toEqual([
      ["nul", { tags: ["a\ufffdb"] }],
      ["ok", { title: "fine" }],
      ["surrogate", { title: "half a pair: \ufffd" }],
      ["text", { note: "the six characters \\u0000 are fine" }],
    ]);
    const errors = await prisma().importError.findMany({ where: { importId: row.id }, orderBy: { id: "asc" } });
    expect(errors).toMatchObject([
      { page: 4, httpStatus: null, message: expect.stringMatching(/^Item "nul" .*U\+0000/) },
      { page: 4, httpStatus: null, message: expect.stringMatching(/^Item "surrogate" .*lone surrogate/) },
    ]);
  });
});

describe("importUpdated's reads", () => {
  it("are shared by every subscriber of one event, and fresh for a later one", async () => {
    const row = await runningImport("shared-read", "w1");
    const first = importAfterEvent(row.id, "10");
    expect(importAfterEvent(row.id, "10")).toBe(first);
    expect(importAfterEvent(row.id, "9")).toBe(first); // read after event 10: good for event 9 too
    await prisma().import.update({ where: { id: row.id }, data: { pagesDone: 7 } });
    const later = importAfterEvent(row.id, "11");
    expect(later).not.toBe(first);
    expect((await later)?.pagesDone).toBe(7);
  });
});
