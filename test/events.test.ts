import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordEvent } from "../src/engine/events.js";
import { canTransition, FINISHED } from "../src/engine/status.js";
import { transition } from "../src/engine/move.js";
import type { Import } from "../src/generated/prisma/client.js";
import { IMPORT_KIND } from "../src/work/imports/kind.js";
import { prisma } from "../src/db/client.js";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { EVENTS_CHANNEL } from "../src/engine/events.js";
import { spawnScript, spawnService } from "./helpers/process.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { subscribe } from "./helpers/subscriptions.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MILEPOST_ROLE: "api" });
});
afterAll(() => server.stop());

const EVENT_FIELDS = `
  id kind subjectKind subjectId at
  ... on StatusEvent { from to reason }
  ... on LogEvent { level message }
  ... on CheckpointEvent { checkpoint { path { level index total } position } }
  ... on ProgressEvent { done total progress etaSeconds counters }
`;
const SUBSCRIBE = `subscription($subject: SubjectInput, $after: ID, $kinds: [EventKind!]) {
  events(subject: $subject, after: $after, kinds: $kinds) { ${EVENT_FIELDS} }
}`;

type Event = { id: string; kind: string; subjectId: string; [field: string]: unknown };

describe("status machine", () => {
  it("allows the lifecycle's transitions and nothing else", () => {
    expect(canTransition("PENDING", "RUNNING")).toBe(true);
    expect(canTransition("RUNNING", "WAITING")).toBe(true);
    expect(canTransition("WAITING", "RUNNING")).toBe(true);
    expect(canTransition("PAUSED", "PENDING")).toBe(true);
    expect(canTransition("CANCELLED", "RUNNING")).toBe(false);
    expect(canTransition("COMPLETED", "RUNNING")).toBe(false);
    expect(canTransition("PENDING", "COMPLETED")).toBe(false);
    expect(canTransition("RUNNING", "RUNNING")).toBe(false);
    expect(FINISHED).toEqual(["COMPLETED", "FAILED", "CANCELLED"]);
  });

  it("moves work with the target's side effects and a STATUS event, and refuses an illegal or stale move, writing nothing", async () => {
    const row = await prisma().import.create({ data: { name: "machine", source: "http-json", dataset: "machine", config: {}, configKey: "machine", checkpointEvery: 1 } });
    const running = await transition<Import>(prisma(), IMPORT_KIND, { id: row.id, from: "PENDING", to: "RUNNING", reason: "started", owner: "w1" });
    expect(running).toMatchObject({ status: "RUNNING", leaseOwner: "w1", completedAt: null });
    expect(running.leaseAt).toBeInstanceOf(Date);
    expect(running.startedAt).toBeInstanceOf(Date);
    const events = await prisma().event.findMany({ where: { subjectKind: "IMPORT", subjectId: row.id } });
    expect(events.map((event) => event.payload)).toEqual([{ from: "PENDING", to: "RUNNING", reason: "started", scope: null }]);

    await prisma().import.update({ where: { id: row.id }, data: { pauseRequested: true } });
    const paused = await transition<Import>(prisma(), IMPORT_KIND, { id: row.id, from: "RUNNING", to: "PAUSED", reason: "paused on request" });
    expect(paused).toMatchObject({ status: "PAUSED", leaseOwner: null, pauseRequested: false, completedAt: null });
    const cancelled = await transition<Import>(prisma(), IMPORT_KIND, { id: row.id, from: "PAUSED", to: "CANCELLED", reason: "cancelled" });
    expect(cancelled.completedAt).toBeInstanceOf(Date);

    await expect(transition(prisma(), IMPORT_KIND, { id: row.id, from: "CANCELLED", to: "RUNNING", reason: "x" })).rejects.toThrow(`IMPORT ${row.id} is CANCELLED and cannot become RUNNING`);
    await expect(transition(prisma(), IMPORT_KIND, { id: row.id, from: "PENDING", to: "RUNNING", reason: "x" })).rejects.toThrow(/no longer PENDING/);
    expect(await prisma().event.count({ where: { subjectKind: "IMPORT", subjectId: row.id } })).toBe(3);
  });
});

describe("events", () => {
  it("are delivered across processes: another process publishes, this api process delivers over graphql-ws", async () => {
    const subject = { kind: "IMPORT", id: "7" };
    const seed = await recordEvent(prisma(), { kind: "LOG", subjectKind: "IMPORT", subjectId: 7, level: "DEBUG", message: "seed" });
    const live = subscribe<{ events: Event }>(server.ws(), SUBSCRIBE, { subject, after: "0" });
    // The replayed seed proves the subscription is listening before the other process publishes.
    expect((await live.next()).events).toMatchObject({ id: seed.id, kind: "LOG", message: "seed" });

    const publisher = await spawnScript("test/fixtures/publish-events.ts", { DATABASE_URL: server.databaseUrl, SUBJECT_ID: "7" }, "published");
    const received: Event[] = [];
    for (let i = 0; i < 4; i++) received.push((await live.next()).events);
    expect((await publisher.exited).code).toBe(0);

    expect(received.map((event) => event.kind)).toEqual(["STATUS", "LOG", "CHECKPOINT", "PROGRESS"]);
    expect(received[0]).toMatchObject({ from: "PENDING", to: "RUNNING", reason: "picked up by a worker", subjectId: "7" });
    expect(received[2]).toMatchObject({ checkpoint: { path: [{ level: "page", index: 1, total: 10 }], position: { page: 2 } } });
    expect(received[3]).toMatchObject({ done: 1, total: 10, progress: 0.1, counters: { itemsNew: 20 } });
    const ids = received.map((event) => BigInt(event.id));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    // The rolled-back LOG never arrives: the next thing delivered is what comes after it.
    await recordEvent(prisma(), { kind: "LOG", subjectKind: "IMPORT", subjectId: 7, level: "INFO", message: "after" });
    expect((await live.next()).events).toMatchObject({ kind: "LOG", message: "after" });
    await live.close();

    // A client that reconnects with the last id it saw gets the persisted events it missed.
    const replay = subscribe<{ events: Event }>(server.ws(), SUBSCRIBE, { subject, after: received[0].id });
    expect((await replay.next()).events).toMatchObject({ kind: "LOG", message: "fetching page 1" });
    expect((await replay.next()).events).toMatchObject({ kind: "CHECKPOINT" });
    expect((await replay.next()).events).toMatchObject({ kind: "LOG", message: "after" });
    await replay.close();

    // The events query: persisted LOG and STATUS events and the last CHECKPOINT, oldest first.
    const page = await server.gql<{ events: { totalCount: number; edges: { node: Event }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } }>(
      `query($subject: SubjectInput!) { events(subject: $subject, first: 3) { totalCount edges { node { ${EVENT_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
      { subject },
    );
    expect(page.errors).toBeUndefined();
    expect(page.data!.events.totalCount).toBe(5);
    expect(page.data!.events.edges.map((edge) => edge.node.kind)).toEqual(["LOG", "STATUS", "LOG"]);
    expect(page.data!.events.pageInfo.hasNextPage).toBe(true);
    const rest = await server.gql<{ events: { edges: { node: Event }[]; pageInfo: { hasNextPage: boolean } } }>(
      `query($subject: SubjectInput!, $after: String) { events(subject: $subject, after: $after) { edges { node { kind } } pageInfo { hasNextPage } } }`,
      { subject, after: page.data!.events.pageInfo.endCursor },
    );
    expect(rest.data!.events.edges.map((edge) => edge.node.kind)).toEqual(["CHECKPOINT", "LOG"]);
    expect(rest.data!.events.pageInfo.hasNextPage).toBe(false);
  });

  it("keeps only a subject's last checkpoint", async () => {
    const checkpoint = (page: number) =>
      recordEvent(prisma(), {
        kind: "CHECKPOINT",
        subjectKind: "JOB",
        subjectId: 9,
        checkpoint: { path: [], position: { page }, at: new Date().toISOString() },
      });
    await checkpoint(1);
    const last = await checkpoint(2);
    const rows = await prisma().event.findMany({ where: { subjectKind: "JOB", subjectId: 9, kind: "CHECKPOINT" } });
    expect(rows.map((row) => row.id.toString())).toEqual([last.id]);
  });

  it("filters by subject and kind, and sends events too large for NOTIFY by reference", async () => {
    const live = subscribe<{ events: Event }>(server.ws(), SUBSCRIBE, { subject: { kind: "QUEUE_ITEM", id: "3" }, kinds: ["LOG"], after: "0" });
    const ready = await recordEvent(prisma(), { kind: "LOG", subjectKind: "QUEUE_ITEM", subjectId: 3, level: "INFO", message: "ready" });
    expect((await live.next()).events.id).toBe(ready.id);
    await recordEvent(prisma(), { kind: "LOG", subjectKind: "QUEUE_ITEM", subjectId: 4, level: "INFO", message: "other subject" });
    await recordEvent(prisma(), { kind: "STATUS", subjectKind: "QUEUE_ITEM", subjectId: 3, from: "PENDING", to: "RUNNING", reason: null });
    const long = "é".repeat(5000); // cut to 4000 characters, still 8000 bytes of UTF-8: too large for NOTIFY
    await recordEvent(prisma(), { kind: "LOG", subjectKind: "QUEUE_ITEM", subjectId: 3, level: "WARNING", message: long });
    const big = (await live.next()).events;
    expect(big).toMatchObject({ kind: "LOG", level: "WARNING" });
    expect(big.message).toBe(`${long.slice(0, 4000)}…`);
    await live.close();
  });

  it("reach a subscriber across a lost LISTEN connection: what was stored meanwhile is replayed once it reconnects, in order, once", async () => {
    // A fresh api process, which has delivered no stored event yet.
    const fresh = await spawnService({ DATABASE_URL: server.databaseUrl, MILEPOST_ROLE: "api", MILEPOST_ADMIN_TOKEN: server.adminToken });
    const client = createClient({ url: fresh.url!.replace(/^http/, "ws"), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${server.adminToken}` }, retryAttempts: 0 });
    const received: Event[] = [];
    const unsubscribe = client.subscribe<{ events: Event }>(
      { query: SUBSCRIBE, variables: { subject: { kind: "IMPORT", id: "77" }, kinds: ["LOG", "PROGRESS"] } },
      { next: (result) => void (result.data && received.push(result.data.events)), error: () => undefined, complete: () => undefined },
    );
    const db = new pg.Client({ connectionString: server.databaseUrl });
    await db.connect();
    try {
      // PROGRESS, which is never stored, until the subscription hears one: the process still has delivered no stored event.
      const progress = { id: "0", kind: "PROGRESS", subjectKind: "IMPORT", subjectId: 77, at: new Date(), done: 1, total: 2, progress: 0.5, ratePerSecond: null, etaSeconds: null, counters: {} };
      while (received.length === 0) {
        await db.query(`SELECT pg_notify($1, $2)`, [EVENTS_CHANNEL, JSON.stringify({ event: progress })]);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // The bridges' LISTEN connections die; three events are stored (and notified) before they are back.
      const { rows } = await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query = $1`, [`LISTEN "${EVENTS_CHANNEL}"`]);
      expect(rows.length).toBeGreaterThanOrEqual(2);
      for (const message of ["gap 1", "gap 2", "gap 3"]) {
        const stored = await db.query(`INSERT INTO "Event" (kind, "subjectKind", "subjectId", payload) VALUES ('LOG', 'IMPORT', 77, $1) RETURNING id`, [{ level: "INFO", message }]);
        await db.query(`SELECT pg_notify($1, $2)`, [EVENTS_CHANNEL, JSON.stringify({ ref: String(stored.rows[0].id) })]);
      }
      const logs = () => received.filter((event) => event.kind === "LOG").map((event) => event.message);
      await expect.poll(logs, { timeout: 5000 }).toEqual(["gap 1", "gap 2", "gap 3"]);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(logs()).toEqual(["gap 1", "gap 2", "gap 3"]); // and none twice
    } finally {
      await db.end();
      unsubscribe();
      await client.dispose();
      await fresh.stop();
    }
  });

  it("refuses a malformed subject id or cursor as BAD_USER_INPUT", async () => {
    const bad = await server.gql(`{ events(subject: { kind: IMPORT, id: "x" }) { totalCount } }`);
    expect(bad.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", fields: ["subject.id"] });
    const cursor = await server.gql(`{ events(subject: { kind: IMPORT, id: "1" }, after: "nope") { totalCount } }`);
    expect(cursor.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", fields: ["after"] });
  });
});

describe("events of some kinds of subject", () => {
  it("sends, live and replayed, only the events of the subject kinds asked for", async () => {
    const before = await recordEvent(prisma(), { kind: "LOG", subjectKind: "QUEUE_ITEM", subjectId: 901, level: "INFO", message: "an item's" });
    const shown = await recordEvent(prisma(), { kind: "LOG", subjectKind: "JOB", subjectId: 902, level: "INFO", message: "a job's, replayed" });
    const live = subscribe<{ events: Event }>(server.ws(), `subscription($after: ID) { events(subjectKinds: [JOB, IMPORT], after: $after) { ${EVENT_FIELDS} } }`, { after: String(BigInt(before.id) - 1n) });
    expect((await live.next()).events).toMatchObject({ id: shown.id, subjectKind: "JOB" });
    await new Promise((resolve) => setTimeout(resolve, 300)); // subscribed
    await recordEvent(prisma(), { kind: "LOG", subjectKind: "QUEUE_ITEM", subjectId: 903, level: "INFO", message: "not this" });
    const wanted = await recordEvent(prisma(), { kind: "LOG", subjectKind: "IMPORT", subjectId: 904, level: "INFO", message: "this" });
    expect((await live.next()).events).toMatchObject({ id: wanted.id, subjectKind: "IMPORT", message: "this" });
    await live.close();
  });
});
