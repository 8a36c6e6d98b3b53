import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { prisma } from "../src/db/client.js";
import { spawnService } from "./helpers/process.js";
import { apiForWorkerProcesses } from "./helpers/server.js";

// Workers that die, freeze or keep another time: work is never taken from a live worker, never runs more often
// than its attempts allow, and a cancel asked for while its worker was away still wins.

const { api: server, workerEnv } = apiForWorkerProcesses("test/fixtures/test-processors.mjs");
const CLOCK_AHEAD = fileURLToPath(new URL("./fixtures/clock-ahead.mjs", import.meta.url));

async function enqueue(key: string, payload: unknown, maxAttempts = 3): Promise<number> {
  const response = await server().gql<{ enqueue: { added: { id: string }[] } }>(`mutation($input: EnqueueInput!) { enqueue(input: $input) { added { id } } }`, {
    input: { queue: "echo", items: [{ key, payload }], maxAttempts },
  });
  expect(response.errors).toBeUndefined();
  return Number(response.data!.enqueue.added[0].id);
}
const row = (id: number) => prisma().queueItem.findUniqueOrThrow({ where: { id } });
const reasons = async (id: number) =>
  (await prisma().event.findMany({ where: { subjectKind: "QUEUE_ITEM", subjectId: id, kind: "STATUS" }, orderBy: { id: "asc" } })).map((event) => event.payload as { to: string; reason: string });
async function until(id: number, check: (item: Awaited<ReturnType<typeof row>>) => boolean, timeout = 40_000): Promise<void> {
  await expect.poll(async () => check(await row(id)), { timeout, interval: 250 }).toBe(true);
}

it("a worker whose clock runs 30 s ahead takes no live work from another: leases are judged on the database's clock", async () => {
  const holder = await spawnService(workerEnv());
  const id = await enqueue("held", { sleepMs: 30_000 });
  await until(id, (item) => item.status === "RUNNING");
  const owner = (await row(id)).leaseOwner;
  const ahead = await spawnService({ ...workerEnv(), CLOCK_AHEAD_MS: "30000", NODE_OPTIONS: `--import=${CLOCK_AHEAD}` });
  // Its sweep judges leases 12 s after it starts, then every 10 s: two sweeps.
  await new Promise((resolve) => setTimeout(resolve, 24_000));
  expect(await row(id)).toMatchObject({ status: "RUNNING", leaseOwner: owner, attempts: 1 });
  expect((await reasons(id)).map((event) => event.reason).filter((reason) => reason.includes("stopped responding"))).toEqual([]);
  await server().gql(`mutation($id: ID!) { cancelQueueItem(id: $id) { id } }`, { id: String(id) });
  await until(id, (item) => item.status === "CANCELLED", 5000);
  await Promise.all([holder.stop(), ahead.stop()]);
}, 60_000);

it("an item whose worker dies during its last attempt ends FAILED: attempts stay bounded through crashes", async () => {
  const id = await enqueue("crash-loop", { sleepMs: 60_000 }, 2);
  for (const attempt of [1, 2]) {
    const worker = await spawnService(workerEnv());
    await until(id, (item) => item.status === "RUNNING" && item.attempts === attempt);
    expect((await worker.stop("SIGKILL")).signal).toBe("SIGKILL");
  }
  const sweeper = await spawnService(workerEnv());
  await until(id, (item) => item.status === "FAILED");
  expect(await row(id)).toMatchObject({ attempts: 2, error: "its worker stopped responding during its last attempt" });
  expect((await reasons(id)).map((event) => event.to)).toEqual(["PENDING", "RUNNING", "PENDING", "RUNNING", "FAILED"]);
  await sweeper.stop();
}, 120_000);

it("an item cancelled while its worker was frozen is never run again once that worker dies", async () => {
  const frozen = await spawnService(workerEnv());
  const id = await enqueue("frozen", { sleepMs: 60_000 });
  await until(id, (item) => item.status === "RUNNING");
  frozen.child.kill("SIGSTOP");
  // The flag is written; the frozen worker cannot hear the notice nor renew its lease.
  const cancel = await server().gql<{ cancelQueueItem: { status: string } }>(`mutation($id: ID!) { cancelQueueItem(id: $id) { status } }`, { id: String(id) });
  expect(cancel.data!.cancelQueueItem.status).toBe("RUNNING");
  expect((await frozen.stop("SIGKILL")).signal).toBe("SIGKILL");
  const next = await spawnService(workerEnv());
  await until(id, (item) => item.status === "CANCELLED");
  expect(await row(id)).toMatchObject({ attempts: 1, cancelRequested: false });
  expect((await reasons(id)).map((event) => `${event.to}: ${event.reason}`)).toEqual([
    "PENDING: enqueued",
    "RUNNING: attempt 1 of 3",
    "CANCELLED: cancelled on request (instead of: its worker stopped responding; to be run again)",
  ]);
  await next.stop();
}, 90_000);
