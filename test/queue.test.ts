import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoServer } from "../src/demo/upstream.js";
import { prisma } from "../src/db/client.js";
import { countQuery } from "../src/work/queue/read.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { subscribe } from "./helpers/subscriptions.js";

const PLUGINS = "test/fixtures/test-processors.mjs";
let server: TestServer;
let demo: Awaited<ReturnType<typeof startDemoServer>>;

beforeAll(async () => {
  demo = await startDemoServer({ items: 10, pageSize: 10 });
  server = await startTestServer({ MILEPOST_PLUGINS: PLUGINS, RETRY_DELAY_MS: "50", MAX_RETRIES: "1", API_TIMEOUT_MS: "2000", WORKER_CONCURRENCY: "4" });
});
afterAll(async () => {
  await server?.stop();
  await demo.close();
});

type Item = { id: string; key: string; status: string; attempts: number; maxAttempts: number; result: unknown; error: string | null; durationSeconds: number | null; priority: number };
const ITEM = "id key status attempts maxAttempts result error durationSeconds priority";
const ENQUEUE = `mutation($input: EnqueueInput!) { enqueue(input: $input) { added { ${ITEM} } skipped { key reason message } } }`;

async function enqueue(input: Record<string, unknown>, on = server) {
  const response = await on.gql<{ enqueue: { added: Item[]; skipped: { key: string; reason: string; message: string | null }[] } }>(ENQUEUE, { input });
  expect(response.errors).toBeUndefined();
  return response.data!.enqueue;
}

async function item(id: string, on = server): Promise<Item> {
  return (await on.gql<{ queueItem: Item }>(`query($id: ID!) { queueItem(id: $id) { ${ITEM} } }`, { id })).data!.queueItem;
}

async function until(id: string, statuses: string[], timeout = 15_000, on = server): Promise<Item> {
  let last: Item | undefined;
  await expect
    .poll(
      async () => {
        last = await item(id, on);
        return statuses.includes(last.status);
      },
      { timeout, interval: 50 },
    )
    .toBe(true);
  return last!;
}

describe("enqueue", () => {
  it("adds items, skipping a key queued already (also within the call) and invalid payloads, each with its reason", async () => {
    const first = await enqueue({ queue: "echo", items: [{ key: "a", payload: { n: 1, sleepMs: 1500 } }, { key: "b", payload: { n: 2, sleepMs: 1500 } }] });
    expect(first.added.map((added) => added.key)).toEqual(["a", "b"]);
    const second = await enqueue({
      queue: "echo",
      items: [
        { key: "a", payload: { n: 1 } },
        { key: "c", payload: { n: 3 } },
        { key: "c", payload: { n: 3 } },
        { key: "bad", payload: { n: "three" } },
        { key: "unlucky", payload: { n: 13 } },
      ],
    });
    expect(second.added.map((added) => added.key)).toEqual(["c"]);
    expect(second.skipped).toEqual([
      { key: "c", reason: "ALREADY_QUEUED", message: expect.stringMatching(/earlier in this call/) },
      { key: "bad", reason: "INVALID", message: expect.stringMatching(/^payload\.n: /) },
      { key: "unlucky", reason: "INVALID", message: "13 is unlucky" },
      { key: "a", reason: "ALREADY_QUEUED", message: expect.stringMatching(/already PENDING, RUNNING or WAITING/) },
    ]);
    // Once "a" is done, the key may be queued again.
    await until(first.added[0].id, ["COMPLETED"]);
    expect((await enqueue({ queue: "echo", items: [{ key: "a", payload: {} }] })).added).toHaveLength(1);
  });

  it("lets only one of two concurrent calls add a key", async () => {
    const keys = Array.from({ length: 200 }, (_, index) => ({ key: `race-${index}`, payload: {} }));
    const [one, two] = await Promise.all([enqueue({ queue: "echo", items: keys }), enqueue({ queue: "echo", items: keys })]);
    expect(one.added.length + two.added.length).toBe(200);
    expect(new Set([...one.added, ...two.added].map((added) => added.key)).size).toBe(200);
  });

  it("refuses an unknown queue and more than 10,000 items as BAD_USER_INPUT", async () => {
    const unknown = await server.gql(ENQUEUE, { input: { queue: "nope", items: [{ key: "x", payload: {} }] } });
    expect(unknown.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", fields: ["input.queue"] });
    expect(unknown.errors?.[0].message).toContain("echo");
    const many = await server.gql(ENQUEUE, { input: { queue: "echo", items: Array.from({ length: 10_001 }, (_, index) => ({ key: String(index), payload: {} })) } });
    expect(many.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", fields: ["input.items"] });
  });
});

describe("running", () => {
  it("retries a failing item with backoff, then fails it with its error; retryQueueItem runs it again from zero", async () => {
    const { added } = await enqueue({ queue: "echo", items: [{ key: "flaky", payload: { failTimes: 1 } }, { key: "hopeless", payload: { failTimes: 5 } }], maxAttempts: 3 });
    const flaky = await until(added[0].id, ["COMPLETED"]);
    expect(flaky).toMatchObject({ attempts: 2, error: null, result: { attempt: 2 } });
    const hopeless = await until(added[1].id, ["FAILED"]);
    expect(hopeless).toMatchObject({ attempts: 3, maxAttempts: 3, error: expect.stringContaining("attempt 3 fails on purpose") });
    const events = await prisma().event.findMany({ where: { subjectKind: "QUEUE_ITEM", subjectId: Number(added[1].id), kind: "STATUS" }, orderBy: { id: "asc" } });
    expect(events.map((event) => (event.payload as { to: string }).to)).toEqual(["PENDING", "RUNNING", "PENDING", "RUNNING", "PENDING", "RUNNING", "FAILED"]);
    // Each failure schedules its retry (RETRY_DELAY_MS 50, then × BACKOFF_FACTOR 2), and no retry is claimed before its
    // time: both events' times are the database's, as is the due time.
    const retries = events.flatMap((event, index) => {
      const scheduled = /retrying in (\d+) ms$/.exec((event.payload as { reason: string }).reason);
      return scheduled ? [{ delayMs: Number(scheduled[1]), failedAt: event.at.getTime(), claimedAt: events[index + 1].at.getTime() }] : [];
    });
    expect(retries.map((retry) => retry.delayMs)).toEqual([50, 100]);
    for (const retry of retries) expect(retry.claimedAt).toBeGreaterThanOrEqual(retry.failedAt + retry.delayMs);

    const retried = await server.gql<{ retryQueueItem: Item }>(`mutation($id: ID!) { retryQueueItem(id: $id) { ${ITEM} } }`, { id: added[1].id });
    expect(["PENDING", "RUNNING"]).toContain(retried.data!.retryQueueItem.status); // a worker may have taken it already
    expect(retried.data!.retryQueueItem.attempts).toBeLessThanOrEqual(1);
    // The retry starts afresh: no error of the last run, and its time counts from its next start only.
    expect(retried.data!.retryQueueItem).toMatchObject({ error: null, durationSeconds: null });
    const again = await until(added[1].id, ["FAILED"]);
    expect(again.attempts).toBe(3);
  });

  it("fails a permanent error at once, without retrying", async () => {
    const { added } = await enqueue({ queue: "echo", items: [{ key: "permanent", payload: { permanent: true } }], maxAttempts: 5 });
    expect(await until(added[0].id, ["FAILED"])).toMatchObject({ attempts: 1, error: "this input can never work" });
  });

  it("cancels a running item through its signal, and a pending one at once", async () => {
    const { added } = await enqueue({ queue: "echo", items: [{ key: "long", payload: { sleepMs: 20_000 } }] });
    await until(added[0].id, ["RUNNING"]);
    const cancelledAt = Date.now();
    const cancel = await server.gql<{ cancelQueueItem: Item }>(`mutation($id: ID!) { cancelQueueItem(id: $id) { status } }`, { id: added[0].id });
    expect(cancel.errors).toBeUndefined();
    await until(added[0].id, ["CANCELLED"], 3000);
    expect(Date.now() - cancelledAt).toBeLessThan(1500);
    const logs = await prisma().event.findMany({ where: { subjectKind: "QUEUE_ITEM", subjectId: Number(added[0].id), kind: "LOG" } });
    expect(logs.map((log) => (log.payload as { message: string }).message)).toEqual(expect.arrayContaining([expect.stringMatching(/^aborted: stopped: cancel/)]));

    const later = await enqueue({ queue: "echo", items: [{ key: "later", payload: {} }], runAfter: new Date(Date.now() + 3600_000).toISOString() });
    const pending = await server.gql<{ cancelQueueItem: Item }>(`mutation($id: ID!) { cancelQueueItem(id: $id) { ${ITEM} } }`, { id: later.added[0].id });
    expect(pending.data!.cancelQueueItem.status).toBe("CANCELLED");
    // A cancelled item may be run again: PENDING, its attempts reset.
    const again = await server.gql<{ retryQueueItem: Item }>(`mutation($id: ID!) { retryQueueItem(id: $id) { ${ITEM} } }`, { id: added[0].id });
    expect(again.errors).toBeUndefined();
    expect(["PENDING", "RUNNING"]).toContain(again.data!.retryQueueItem.status);
    await server.gql(`mutation($id: ID!) { cancelQueueItem(id: $id) { id } }`, { id: added[0].id });
  });

  it("stops a cancelled item at once through the cancel's notice, not at its worker's next lease renewal", async () => {
    // Renewals read the flag once a second: five cancels in a row would all land within 400 ms of one about 1% of the time.
    for (let round = 0; round < 5; round++) {
      const { added } = await enqueue({ queue: "echo", items: [{ key: `notice-${round}`, payload: { sleepMs: 20_000 } }] });
      await until(added[0].id, ["RUNNING"]);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 1000)); // anywhere between two renewals
      await server.gql(`mutation($id: ID!) { cancelQueueItem(id: $id) { status } }`, { id: added[0].id });
      await until(added[0].id, ["CANCELLED"], 3000);
      // Timed by the database: from the cancel's own event (its transaction) to the item's end.
      const events = await prisma().event.findMany({ where: { subjectKind: "QUEUE_ITEM", subjectId: Number(added[0].id), kind: { in: ["LOG", "STATUS"] } }, orderBy: { id: "asc" } });
      const asked = events.find((event) => (event.payload as { message?: string }).message === "cancel requested; aborting")!;
      const ended = events.find((event) => (event.payload as { to?: string }).to === "CANCELLED")!;
      expect(ended.at.getTime() - asked.at.getTime(), `round ${round}`).toBeLessThan(400);
    }
  });

  it("claims higher priority first, ties in enqueue order", async () => {
    // Queued while paused, so every item waits; then the four slots take them in batches.
    await server.gql(`mutation { pauseQueue(queue: "echo") { paused } }`);
    const batches = [
      await enqueue({ queue: "echo", items: [0, 1, 2].map((n) => ({ key: `low-${n}`, payload: {} })), priority: 0 }),
      await enqueue({ queue: "echo", items: [0, 1, 2].map((n) => ({ key: `high-${n}`, payload: {} })), priority: 10 }),
      await enqueue({ queue: "echo", items: [0, 1, 2].map((n) => ({ key: `mid-${n}`, payload: {} })), priority: 5 }),
    ];
    const items = batches.flatMap((batch) => batch.added);
    expect(items.every((added) => added.status === "PENDING")).toBe(true);
    await server.gql(`mutation { resumeQueue(queue: "echo") { paused } }`);
    for (const added of items) await until(added.id, ["COMPLETED"]);
    const claims = await prisma().event.findMany({ where: { subjectKind: "QUEUE_ITEM", subjectId: { in: items.map((added) => Number(added.id)) }, kind: "STATUS" } });
    // A claim statement stamps its events with one time: items claimed together share it.
    const claimedAt = new Map(claims.filter((event) => (event.payload as { to: string }).to === "RUNNING").map((event) => [String(event.subjectId), event.at.getTime()]));
    const before = (a: Item, b: Item) => a.priority > b.priority || (a.priority === b.priority && Number(a.id) < Number(b.id));
    for (const a of items) for (const b of items) if (before(a, b)) expect([a.key, b.key, claimedAt.get(a.id)! <= claimedAt.get(b.id)!]).toEqual([a.key, b.key, true]);
    expect(new Set(claimedAt.values()).size).toBeGreaterThan(1); // more than one batch: the order was put to the test
  });
});

describe("a queue item's events", () => {
  it("are pushed live as it is claimed and as it ends, whether or not its worker claims more in the same statement", async () => {
    const [added] = (await enqueue({ queue: "echo", items: [{ key: "pushed", payload: { n: 1 } }] })).added;
    const events = subscribe<{ events: { to: string } }>(server.ws(), `subscription($id: ID!) { events(subject: { kind: QUEUE_ITEM, id: $id }, kinds: [STATUS], after: "0") { ... on StatusEvent { to } } }`, { id: added.id });
    const seen: string[] = [];
    while (!seen.includes("COMPLETED")) seen.push((await events.next(5000)).events.to);
    await events.close();
    expect(seen).toEqual(["PENDING", "RUNNING", "COMPLETED"]);
    // Live, not replayed: one more after the subscription is open.
    const live = subscribe<{ events: { to: string } }>(server.ws(), `subscription { events(kinds: [STATUS]) { ... on StatusEvent { to } } }`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await enqueue({ queue: "echo", items: [{ key: "pushed-live", payload: { n: 2 } }] });
    const liveSeen: string[] = [];
    while (!liveSeen.includes("COMPLETED")) liveSeen.push((await live.next(5000)).events.to);
    await live.close();
    expect(liveSeen).toEqual(["PENDING", "RUNNING", "COMPLETED"]);
  });
});

describe("queueStatus and queueItems", () => {
  it("counts by status, shows what runs with its duration, and pushes changes live", async () => {
    const live = subscribe<{ queueStatusUpdated: { pending: number; running: number; completed: number; current: { key: string; durationSeconds: number }[] } }>(
      server.ws(),
      `subscription { queueStatusUpdated(queue: "echo") { pending running completed current { key durationSeconds } } }`,
    );
    const snapshot = (await live.next()).queueStatusUpdated;
    await enqueue({ queue: "echo", items: [{ key: "watched", payload: { sleepMs: 600 } }] });
    let update = (await live.next()).queueStatusUpdated;
    while (!update.current.some((running) => running.key === "watched")) update = (await live.next()).queueStatusUpdated;
    while (update.current.some((running) => running.key === "watched")) update = (await live.next()).queueStatusUpdated;
    expect(update.completed).toBeGreaterThan(snapshot.completed);
    await live.close();

    const status = await server.gql<{ queueStatus: { total: number; completed: number; paused: boolean } }>(`{ queueStatus(queue: "echo") { total completed failed paused } }`);
    expect(status.data!.queueStatus).toMatchObject({ paused: false });
    expect(status.data!.queueStatus.total).toBeGreaterThanOrEqual(status.data!.queueStatus.completed);
    expect(status.data!.queueStatus.completed).toBeGreaterThanOrEqual(1);
  });

  it("filters by search (key, label, error) and by payload containment, answered by indexes", async () => {
    await enqueue({ queue: "echo", items: [{ key: "site-1", label: "Example Corp", payload: { domain: "example.com", tag: "x" } }, { key: "site-2", label: "Other", payload: { domain: "other.org" } }] });
    const byPayload = await server.gql<{ queueItems: { totalCount: number; edges: { node: { key: string } }[] } }>(
      `{ queueItems(queue: "echo", payload: { domain: "example.com" }) { totalCount edges { node { key } } } }`,
    );
    expect(byPayload.data!.queueItems.edges.map((edge) => edge.node.key)).toEqual(["site-1"]);
    const bySearch = await server.gql<{ queueItems: { edges: { node: { key: string } }[] } }>(`{ queueItems(search: "example c") { edges { node { key } } } }`);
    expect(bySearch.data!.queueItems.edges.map((edge) => edge.node.key)).toEqual(["site-1"]);
    const byError = await server.gql<{ queueItems: { edges: { node: { key: string } }[] } }>(`{ queueItems(search: "FAILS ON PURPOSE", status: [FAILED]) { edges { node { key } } } }`);
    expect(byError.data!.queueItems.edges.map((edge) => edge.node.key)).toContain("hopeless");
    const wild = await server.gql<{ queueItems: { totalCount: number } }>(`{ queueItems(search: "%") { totalCount } }`);
    expect(wild.data!.queueItems.totalCount).toBe(0); // % is a character here, not a wildcard

    // PostgreSQL can answer the filters from their GIN indexes instead of reading the table (counted, so no LIMIT favours another plan).
    for (const filter of [{ payload: { domain: "example.com" } }, { search: "example" }, { tags: ["nightly"] }, { meta: { team: "web" } }]) {
      const plan = await prisma().$transaction(async (tx) => {
        await tx.$executeRaw`SET LOCAL enable_seqscan = off`;
        const query = countQuery(filter);
        return tx.$queryRawUnsafe<{ "QUERY PLAN": string }[]>(`EXPLAIN ${query.text}`, ...query.values);
      });
      const index = "payload" in filter ? /QueueItem_payload_idx/ : "search" in filter ? /QueueItem_search_idx/ : "tags" in filter ? /QueueItem_tags_idx/ : /QueueItem_meta_idx/;
      expect(plan.map((row) => row["QUERY PLAN"]).join("\n")).toMatch(index);
    }
  });

  it("pages through items newest first", async () => {
    const first = await server.gql<{ queueItems: { edges: { node: { id: string } }[]; pageInfo: { endCursor: string; hasNextPage: boolean } } }>(
      `{ queueItems(queue: "echo", first: 3) { edges { node { id } } pageInfo { endCursor hasNextPage } } }`,
    );
    const ids = first.data!.queueItems.edges.map((edge) => Number(edge.node.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const next = await server.gql<{ queueItems: { edges: { node: { id: string } }[] } }>(`query($after: String) { queueItems(queue: "echo", first: 3, after: $after) { edges { node { id } } } }`, {
      after: first.data!.queueItems.pageInfo.endCursor,
    });
    expect(Number(next.data!.queueItems.edges[0].node.id)).toBeLessThan(ids[2]);
  });

  it("cleans finished items older than the given days (ADMIN)", async () => {
    const before = await server.gql<{ queueStatus: { completed: number } }>(`{ queueStatus(queue: "echo") { completed } }`);
    expect(before.data!.queueStatus.completed).toBeGreaterThan(0);
    expect((await server.gql<{ cleanQueue: number }>(`mutation { cleanQueue(queue: "echo", olderThanDays: 1) }`)).data!.cleanQueue).toBe(0);
    const cleaned = await server.gql<{ cleanQueue: number }>(`mutation { cleanQueue(queue: "echo", olderThanDays: 0) }`);
    expect(cleaned.data!.cleanQueue).toBeGreaterThan(0);
    const after = await server.gql<{ queueStatus: { completed: number; failed: number; cancelled: number } }>(`{ queueStatus(queue: "echo") { completed failed cancelled } }`);
    expect(after.data!.queueStatus).toEqual({ completed: 0, failed: 0, cancelled: 0 });
  });
});

describe("built-in processors", () => {
  it("http-check answers status, final URL, time, size, type and title; a 404 is a result; a dead host fails after its attempts", async () => {
    const { added } = await enqueue({
      queue: "http-check",
      items: [
        { key: "home", payload: { url: `${demo.url}/pages/home` } },
        { key: "moved", payload: { url: `${demo.url}/pages/moved` } },
        { key: "missing", payload: { url: `${demo.url}/pages/missing` } },
        { key: "dead", payload: { url: "http://127.0.0.1:9/" } },
        { key: "hostile", payload: { url: `${demo.url}/pages/hostile` } },
        { key: "refused", payload: { url: `${demo.url}/pages/refused` } },
        { key: "long", payload: { url: `${demo.url}/pages/long` } },
      ],
      maxAttempts: 2,
    });
    const [home, moved, missing, dead, hostile, refused, long] = await Promise.all(added.map((added) => until(added.id, ["COMPLETED", "FAILED"])));
    expect(refused).toMatchObject({ status: "COMPLETED", attempts: 1, result: { status: 400, ok: false, title: "Bad request" } });
    expect(home).toMatchObject({ status: "COMPLETED", result: { status: 200, ok: true, finalUrl: `${demo.url}/pages/home`, contentType: "text/html; charset=utf-8", title: "Milepost demo & friends" } });
    expect((home.result as { bytes: number; ms: number }).bytes).toBeGreaterThan(50);
    expect(home.result).toMatchObject({ complete: true });
    // 1 MiB in chunks with no declared size, read up to 512 KiB: the size is what was read, and says it is not all.
    expect(long).toMatchObject({ status: "COMPLETED", result: { status: 200, title: "A long page", bytes: 512 * 1024, complete: false } });
    expect(moved.result).toMatchObject({ status: 200, finalUrl: `${demo.url}/pages/home` });
    expect(missing).toMatchObject({ status: "COMPLETED", result: { status: 404, ok: false, title: "Not found" } });
    expect(dead).toMatchObject({ status: "FAILED", attempts: 2, error: expect.stringMatching(/Network error/) });
    // A title is shown in terminals: the escapes that would clear the screen and rename the window, NUL and a bidi override are dropped.
    expect(hostile).toMatchObject({ status: "COMPLETED", result: { title: "[2J ]0;pwned Hostile [31m title" } });
    const domains = await enqueue({ queue: "http-check", items: [{ key: "domain", payload: { domain: "not a domain" } }] });
    expect(domains.skipped[0]).toMatchObject({ reason: "INVALID", message: expect.stringContaining("domain name") });
  });

  it("image-normalize trims, fits a PNG and a JPEG into 1024×1024 on white as WebP, serves them to token holders, and fails a non-image at once", async () => {
    const { added } = await enqueue({
      queue: "image-normalize",
      items: [
        { key: "png", payload: { url: `${demo.url}/images/poster-3.png` } },
        { key: "jpg", payload: { url: `${demo.url}/images/poster-4.jpg` } },
        { key: "broken", payload: { url: `${demo.url}/images/broken.png` } },
      ],
    });
    const [png, jpg, broken] = await Promise.all(added.map((added) => until(added.id, ["COMPLETED", "FAILED"], 20_000)));
    expect(broken).toMatchObject({ status: "FAILED", attempts: 1, error: expect.stringMatching(/is not an image this service takes \(text\/html\)/) });
    const sharp = (await import("sharp")).default;
    for (const done of [png, jpg]) {
      const result = done.result as { width: number; height: number; bytes: number; url: string };
      expect(result).toMatchObject({ width: 1024, height: 1024, url: expect.stringMatching(/^\/files\/[0-9a-f]{32}\.webp$/) });
      const origin = new URL(server.url).origin;
      expect((await fetch(`${origin}${result.url}`)).status).toBe(401);
      const file = await fetch(`${origin}${result.url}`, { headers: { authorization: `Bearer ${server.adminToken}` } });
      expect(file.headers.get("content-type")).toBe("image/webp");
      const bytes = Buffer.from(await file.arrayBuffer());
      expect(bytes.length).toBe(result.bytes);
      const meta = await sharp(bytes).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(["webp", 1024, 1024]);
      // The white border was trimmed: the poster reaches the square's top and bottom (posters are taller than wide).
      const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
      const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
      expect(at(512, 2).some((channel) => channel < 200)).toBe(true); // the poster's colour, not a white margin
      expect(at(2, 512)).toEqual([255, 255, 255]); // white sides
    }
  }, 40_000);

  it("image-normalize applies a photo's EXIF orientation: a poster stored sideways comes out wider than tall", async () => {
    const { added } = await enqueue({ queue: "image-normalize", items: [{ key: "sideways", payload: { url: `${demo.url}/images/poster-3-rotated.jpg` } }] });
    const done = await until(added[0].id, ["COMPLETED", "FAILED"], 20_000);
    expect(done.status).toBe("COMPLETED");
    const stored = await prisma().storedFile.findUniqueOrThrow({ where: { id: /\/files\/([0-9a-f]+)\.webp/.exec((done.result as { url: string }).url)![1] } });
    const sharp = (await import("sharp")).default;
    const { data, info } = await sharp(Buffer.from(stored.bytes)).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
    expect(at(12, 512).some((channel) => channel < 200)).toBe(true); // turned: the poster reaches the sides…
    expect(at(512, 2)).toEqual([255, 255, 255]); // …with white above and below
  }, 30_000);
});

describe("retryFailedItems", () => {
  it("runs every FAILED item of a queue again, once per key, and none whose key is queued again meanwhile", async () => {
    const enqueue = (items: unknown[]) => server.gql(`mutation($items: [EnqueueItemInput!]!) { enqueue(input: { queue: "echo", items: $items, maxAttempts: 1 }) { added { id } } }`, { items });
    await enqueue([
      { key: "rf-1", payload: { n: 1, permanent: true } },
      { key: "rf-2", payload: { n: 2, permanent: true } },
    ]);
    const failed = () => prisma().queueItem.findMany({ where: { key: { startsWith: "rf-" }, status: "FAILED" } });
    await expect.poll(async () => (await failed()).length, { timeout: 10_000 }).toBe(2);
    // rf-2 fails again as a second row; and rf-1 is queued anew meanwhile (its retry would be a twin).
    await enqueue([{ key: "rf-2", payload: { n: 2, permanent: true } }]);
    await expect.poll(async () => (await failed()).length, { timeout: 10_000 }).toBe(3);
    await enqueue([{ key: "rf-1", payload: { n: 1, sleepMs: 3000 } }]);
    const retried = await server.gql<{ retryFailedItems: number }>(`mutation { retryFailedItems(queue: "echo") }`);
    expect(retried.data!.retryFailedItems).toBe(1); // rf-2's newest
    const rows = await prisma().queueItem.findMany({ where: { key: { startsWith: "rf-" } }, orderBy: { id: "asc" } });
    const retriedIds = (await prisma().event.findMany({ where: { subjectKind: "QUEUE_ITEM", subjectId: { in: rows.map((row) => row.id) }, kind: "STATUS" } }))
      .filter((event) => (event.payload as { reason: string }).reason.startsWith("retried on request (with every failed item"))
      .map((event) => event.subjectId);
    expect(retriedIds).toEqual([rows.filter((row) => row.key === "rf-2").at(-1)!.id]);
    const unknown = await server.gql(`mutation { retryFailedItems(queue: "nope") }`);
    expect(unknown.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });
});
