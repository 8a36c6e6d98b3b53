import { afterAll, beforeAll, expect, it } from "vitest";
import { prisma } from "../src/db/client.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// Bursts of short items on one healthy worker: leases are renewed while claims come and go, and no live item may be
// taken for lost (it would be swept back and run twice), nor may more run at once than the worker's concurrency.

const CONCURRENCY = 16;
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MILEPOST_PLUGINS: "test/fixtures/test-processors.mjs", WORKER_CONCURRENCY: String(CONCURRENCY) });
});
afterAll(() => server?.stop());

/** The most subjects RUNNING at once, from their STATUS events (the database's times; an end and a claim at the same instant do not overlap). */
function mostAtOnce(events: { subjectId: number; at: Date; payload: unknown }[]): number {
  const edges = events.flatMap((event) => {
    const { from, to } = event.payload as { from: string | null; to: string };
    if (to === "RUNNING") return [{ at: event.at.getTime(), delta: 1 }];
    if (from === "RUNNING") return [{ at: event.at.getTime(), delta: -1 }];
    return [];
  });
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let running = 0;
  let most = 0;
  for (const edge of edges) most = Math.max(most, (running += edge.delta));
  return most;
}

it(`runs bursts of 500 items on one worker without taking any live one for lost, never more than ${CONCURRENCY} at once`, async () => {
  const ids: number[] = [];
  for (let burst = 0; burst < 4; burst++) {
    const items = Array.from({ length: 500 }, (_, n) => ({ key: `burst-${burst}-${n}`, payload: { sleepMs: 20 + (n % 5) * 10 } }));
    const response = await server.gql<{ enqueue: { added: { id: string }[] } }>(`mutation($input: EnqueueInput!) { enqueue(input: $input) { added { id } } }`, { input: { queue: "echo", items } });
    ids.push(...response.data!.enqueue.added.map((added) => Number(added.id)));
    await new Promise((resolve) => setTimeout(resolve, 700));
  }
  expect(ids).toHaveLength(2000);
  await expect.poll(() => prisma().queueItem.count({ where: { id: { in: ids }, status: "COMPLETED" } }), { timeout: 60_000, interval: 250 }).toBe(2000);
  const events = await prisma().event.findMany({ where: { subjectKind: "QUEUE_ITEM", subjectId: { in: ids }, kind: "STATUS" }, orderBy: { id: "asc" } });
  const reasons = events.map((event) => (event.payload as { reason: string }).reason);
  expect(reasons.filter((reason) => reason.includes("stopped responding"))).toEqual([]);
  expect(events.filter((event) => (event.payload as { to: string }).to === "RUNNING")).toHaveLength(2000); // each ran once
  expect(await prisma().queueItem.aggregate({ where: { id: { in: ids } }, _max: { attempts: true } })).toMatchObject({ _max: { attempts: 1 } });
  // Seen from inside the processor: never more runs at once than the worker's concurrency, and it did run that many.
  const [{ most }] = await prisma().$queryRaw<{ most: number }[]>`SELECT max((result->>'atOnce')::int)::int AS most FROM "QueueItem" WHERE id = ANY(${ids})`;
  expect(most).toBe(CONCURRENCY);
}, 90_000);

it("runs a job without a concurrency one step at a time", async () => {
  const created = await server.gql<{ createJob: { id: string } }>(`mutation($input: CreateJobInput!) { createJob(input: $input) { id } }`, {
    input: { kind: "echo", name: "one at a time", steps: Array.from({ length: 6 }, (_, n) => ({ name: `step ${n}`, input: { sleepMs: 100 } })) },
  });
  const id = Number(created.data!.createJob.id);
  await expect.poll(async () => (await prisma().job.findUniqueOrThrow({ where: { id } })).status, { timeout: 15_000 }).toBe("COMPLETED");
  const steps = await prisma().jobStep.findMany({ where: { jobId: id }, select: { id: true } });
  const events = await prisma().event.findMany({ where: { subjectKind: "JOB_STEP", subjectId: { in: steps.map((step) => step.id) }, kind: "STATUS" } });
  expect(mostAtOnce(events)).toBe(1);
});
