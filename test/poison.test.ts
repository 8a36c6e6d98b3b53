import { afterAll, beforeAll, expect, it } from "vitest";
import { prisma } from "../src/db/client.js";
import { startDemoServer } from "../src/demo/upstream.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// One bad string, or one row the database refuses, never blocks other work: text is made storable before any
// statement, and a batch of ends that fails on one row's data is split so the others are written.

let server: TestServer;
let demo: Awaited<ReturnType<typeof startDemoServer>>;

beforeAll(async () => {
  demo = await startDemoServer({ items: 10, pageSize: 10 });
  server = await startTestServer({ MILEPOST_PLUGINS: "test/fixtures/test-processors.mjs", WORKER_CONCURRENCY: "4", MAX_RETRIES: "0", RETRY_DELAY_MS: "20" });
});
afterAll(async () => {
  await server?.stop();
  await demo?.close();
});

type Item = { id: string; key: string; status: string; error: string | null; result: { title?: string } | null };

async function enqueue(queue: string, items: { key: string; payload: unknown }[]): Promise<string[]> {
  const response = await server.gql<{ enqueue: { added: { id: string }[] } }>(`mutation($input: EnqueueInput!) { enqueue(input: $input) { added { id } } }`, {
    input: { queue, items, maxAttempts: 1 },
  });
  expect(response.errors).toBeUndefined();
  return response.data!.enqueue.added.map((added) => added.id);
}

async function settled(ids: string[]): Promise<Item[]> {
  const read = async () =>
    Promise.all(ids.map(async (id) => (await server.gql<{ queueItem: Item }>(`query($id: ID!) { queueItem(id: $id) { id key status error result } }`, { id })).data!.queueItem));
  await expect.poll(async () => (await read()).every((item) => ["COMPLETED", "FAILED"].includes(item.status)), { timeout: 15_000, interval: 100 }).toBe(true);
  return read();
}

const page = (name: string) => ({ url: `${demo.url}/pages/${name}` });

it("a NUL in a 5xx body, or in a processor's error, and half a surrogate pair in a title: the bad items end as they should, the others finish", async () => {
  const ids = [
    ...(await enqueue("http-check", [
      { key: "down", payload: page("unavailable") },
      { key: "half-pair", payload: page("halfpair") },
      ...[1, 2, 3].map((n) => ({ key: `fine-${n}`, payload: page("home") })),
    ])),
    ...(await enqueue("echo", [{ key: "bad-error", payload: { unstorableError: true } }, ...[1, 2, 3].map((n) => ({ key: `echo-${n}`, payload: { n } }))])),
  ];
  const byKey = Object.fromEntries((await settled(ids)).map((item) => [item.key, item]));
  expect(byKey.down).toMatchObject({ status: "FAILED", error: expect.stringMatching(/^HTTP 503 from .*down for maintenance\uFFFD back soon/) });
  expect(byKey["half-pair"]).toMatchObject({ status: "COMPLETED", result: { title: "half a pair: \uFFFD (and a whole one: \u{1F600})" } });
  expect(byKey["bad-error"]).toMatchObject({ status: "FAILED", error: "a NUL \uFFFD and half a pair \uFFFD in an error" });
  for (const key of ["fine-1", "fine-2", "fine-3", "echo-1", "echo-2", "echo-3"]) expect(byKey[key].status).toBe("COMPLETED");
  // Their STATUS events and LOG lines were stored too.
  const reasons = await prisma().event.findMany({ where: { subjectKind: "QUEUE_ITEM", subjectId: { in: [Number(byKey.down.id), Number(byKey["bad-error"].id)] }, kind: "STATUS" } });
  expect(reasons.map((event) => (event.payload as { to: string }).to).filter((to) => to === "FAILED")).toHaveLength(2);
});

it("the same through a job's steps: the job ends with the bad steps FAILED and the rest COMPLETED", async () => {
  const created = await server.gql<{ createJob: { id: string } }>(`mutation($input: CreateJobInput!) { createJob(input: $input) { id } }`, {
    input: {
      kind: "http-check",
      name: "poison steps",
      maxRetries: 0,
      config: { concurrency: 4 },
      steps: [page("unavailable"), page("halfpair"), page("home"), page("home")].map((input, n) => ({ name: `step ${n}`, input })),
    },
  });
  expect(created.errors).toBeUndefined();
  const id = Number(created.data!.createJob.id);
  await expect.poll(async () => (await prisma().job.findUniqueOrThrow({ where: { id } })).status, { timeout: 15_000 }).toBe("COMPLETED");
  expect(await prisma().job.findUniqueOrThrow({ where: { id } })).toMatchObject({ completedSteps: 3, failedSteps: 1, runningSteps: 0 });
  const failed = await prisma().jobStep.findFirstOrThrow({ where: { jobId: id, status: "FAILED" } });
  expect(failed.error).toContain("down for maintenance\uFFFD back soon");
});

it("a row the database refuses to end is written apart: it ends FAILED saying why, the rest of its batch is written, and the worker goes on", async () => {
  // An operator's trigger (or any constraint) that this one row breaks: nothing the engine can make storable.
  await prisma().$executeRawUnsafe(`
    CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.key = 'poison' AND NEW.status = 'COMPLETED' THEN RAISE EXCEPTION 'this row may not be COMPLETED' USING ERRCODE = '23514'; END IF;
      RETURN NEW;
    END $$`);
  await prisma().$executeRawUnsafe(`CREATE TRIGGER refuse_poison BEFORE UPDATE ON "QueueItem" FOR EACH ROW EXECUTE FUNCTION refuse_poison()`);
  try {
    // They all sleep alike, so they end together: the poison rides in a batch with the others.
    const ids = await enqueue("echo", ["before", "poison", "beside", "after"].map((key) => ({ key, payload: { sleepMs: 200 } })));
    const byKey = Object.fromEntries((await settled(ids)).map((item) => [item.key, item]));
    expect(byKey.poison).toMatchObject({ status: "FAILED", error: expect.stringMatching(/^its outcome could not be stored: .*this row may not be COMPLETED/) });
    for (const key of ["before", "beside", "after"]) expect(byKey[key].status).toBe("COMPLETED");
    // The worker still runs what comes next.
    const [next] = await enqueue("echo", [{ key: "next", payload: {} }]);
    expect((await settled([next]))[0].status).toBe("COMPLETED");
  } finally {
    await prisma().$executeRawUnsafe(`DROP TRIGGER refuse_poison ON "QueueItem"`);
    await prisma().$executeRawUnsafe(`DROP FUNCTION refuse_poison()`);
  }
});
