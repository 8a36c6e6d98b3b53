import { expect, it } from "vitest";
import { prisma } from "../src/db/client.js";
import { deleteOldEvents } from "../src/engine/retention.js";
import { IMPORT_KIND } from "../src/work/imports/kind.js";
import { QUEUE_ITEM_KIND } from "../src/work/queue/kind.js";
import { spawnService } from "./helpers/process.js";
import { apiForWorkerProcesses, postGraphQL } from "./helpers/server.js";

const { api: server, workerEnv } = apiForWorkerProcesses("test/fixtures/test-processors.mjs");
const ENQUEUE = `mutation($input: EnqueueInput!) { enqueue(input: $input) { added { id } } }`;
type Item = { status: string; attempts: number; result: unknown };

async function enqueue(items: { key: string; payload: unknown }[]): Promise<string[]> {
  const response = await server().gql<{ enqueue: { added: { id: string }[] } }>(ENQUEUE, { input: { queue: "echo", items } });
  expect(response.errors).toBeUndefined();
  return response.data!.enqueue.added.map((added) => added.id);
}
const itemOf = async (id: string) => (await server().gql<{ queueItem: Item }>(`query($id: ID!) { queueItem(id: $id) { status attempts result } }`, { id })).data!.queueItem;

it("keeps the queue through a restart: items enqueued with no worker run when one starts", async () => {
  const ids = await enqueue([1, 2, 3].map((n) => ({ key: `kept-${n}`, payload: { n } })));
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect((await itemOf(ids[0])).status).toBe("PENDING");
  const worker = await spawnService(workerEnv());
  for (const id of ids) await expect.poll(async () => (await itemOf(id)).status, { timeout: 10_000 }).toBe("COMPLETED");
  expect((await worker.stop()).code).toBe(0);
});

it("holds a pause across worker restarts, on every worker; resume lets them run", async () => {
  expect((await server().gql(`mutation { pauseQueue(queue: "echo") { paused } }`)).errors).toBeUndefined();
  const [first, second] = await Promise.all([spawnService(workerEnv()), spawnService(workerEnv())]);
  const ids = await enqueue([1, 2].map((n) => ({ key: `paused-${n}`, payload: {} })));
  await first.stop();
  const third = await spawnService(workerEnv());
  await new Promise((resolve) => setTimeout(resolve, 1500)); // several polls of both workers
  for (const id of ids) expect((await itemOf(id)).status).toBe("PENDING");
  const status = await server().gql<{ queueStatus: { paused: boolean; pending: number } }>(`{ queueStatus(queue: "echo") { paused pending } }`);
  expect(status.data!.queueStatus).toEqual({ paused: true, pending: 2 });

  const resumed = await server().gql<{ resumeQueue: { paused: boolean } }>(`mutation { resumeQueue(queue: "echo") { paused } }`);
  expect(resumed.data!.resumeQueue.paused).toBe(false);
  for (const id of ids) await expect.poll(async () => (await itemOf(id)).status, { timeout: 10_000 }).toBe("COMPLETED");
  await Promise.all([second.stop(), third.stop()]);
});

it("gives a killed worker's RUNNING items back to PENDING within 30 s, keeping their attempts; another worker takes them up", async () => {
  const killed = await spawnService(workerEnv());
  const ids = await enqueue([1, 2].map((n) => ({ key: `crash-${n}`, payload: { sleepMs: 60_000 } })));
  for (const id of ids) await expect.poll(async () => (await itemOf(id)).status, { timeout: 10_000 }).toBe("RUNNING");
  expect((await killed.stop("SIGKILL")).signal).toBe("SIGKILL");
  const diedAt = Date.now();
  // The survivor runs items of 60 s too, so it takes them back, but does not finish them within the test.
  const survivor = await spawnService(workerEnv());
  for (const id of ids) {
    await expect
      .poll(
        async () => {
          const events = await prisma().event.findMany({ where: { subjectKind: "QUEUE_ITEM", subjectId: Number(id), kind: "STATUS" }, orderBy: { id: "asc" } });
          return events.map((event) => (event.payload as { reason: string }).reason).includes("its worker stopped responding; to be run again");
        },
        { timeout: 30_000, interval: 250 },
      )
      .toBe(true);
  }
  expect(Date.now() - diedAt).toBeLessThan(30_000);
  for (const id of ids) {
    await expect.poll(async () => (await itemOf(id)).status, { timeout: 10_000 }).toBe("RUNNING");
    expect((await itemOf(id)).attempts).toBe(2); // the first attempt was made and is kept; this is the second
  }
  await survivor.stop(); // hands them back: the interrupted attempt is not counted
  for (const id of ids) expect(await itemOf(id)).toMatchObject({ status: "PENDING", attempts: 1 });
  await postGraphQL(server().url, { query: `mutation { cleanQueue(olderThanDays: 0) }` }, server().adminToken);
}, 90_000);

it("deletes old LOG and STATUS events of finished work only, keeping every CHECKPOINT", async () => {
  const old = new Date(Date.now() - 30 * 86_400_000);
  const finished = await prisma().queueItem.create({ data: { queue: "echo", key: "old-finished", payload: {}, maxAttempts: 1, status: "COMPLETED", completedAt: old } });
  const waiting = await prisma().queueItem.create({ data: { queue: "echo", key: "old-waiting", payload: {}, maxAttempts: 1, status: "WAITING" } });
  const running = await prisma().import.create({ data: { name: "long", source: "http-json", dataset: "long", config: {}, configKey: "long", checkpointEvery: 1, status: "RUNNING" } });
  const rows = (kind: "QUEUE_ITEM" | "IMPORT", subjectId: number) =>
    ["LOG", "STATUS", "CHECKPOINT"].map((eventKind) => ({ kind: eventKind as "LOG" | "STATUS" | "CHECKPOINT", subjectKind: kind, subjectId, at: old, payload: {} }));
  await prisma().event.createMany({ data: [...rows("QUEUE_ITEM", finished.id), ...rows("QUEUE_ITEM", waiting.id), ...rows("IMPORT", running.id), ...rows("QUEUE_ITEM", 2_000_000)] });
  await prisma().event.create({ data: { kind: "LOG", subjectKind: "QUEUE_ITEM", subjectId: finished.id, payload: {} } }); // recent: kept

  const deleted = await deleteOldEvents([IMPORT_KIND, QUEUE_ITEM_KIND], 14);
  expect(deleted).toBe(4); // LOG and STATUS of the finished item and of an item that no longer exists
  const left = async (kind: "QUEUE_ITEM" | "IMPORT", id: number) => (await prisma().event.findMany({ where: { subjectKind: kind, subjectId: id }, orderBy: { id: "asc" } })).map((event) => event.kind);
  expect(await left("QUEUE_ITEM", finished.id)).toEqual(["CHECKPOINT", "LOG"]);
  expect(await left("QUEUE_ITEM", waiting.id)).toEqual(["LOG", "STATUS", "CHECKPOINT"]);
  expect(await left("IMPORT", running.id)).toEqual(["LOG", "STATUS", "CHECKPOINT"]);
  expect(await left("QUEUE_ITEM", 2_000_000)).toEqual(["CHECKPOINT"]);
  const scheduled = await prisma().$queryRaw<{ name: string; cron: string }[]>`SELECT name, cron FROM pgboss.schedule WHERE name = 'event-retention'`;
  expect(scheduled).toEqual([{ name: "event-retention", cron: "17 * * * *" }]); // the workers above scheduled it
});
