import { afterAll, beforeAll, expect, it } from "vitest";
import { prisma } from "../src/db/client.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// The files processors store go with the items that made them, and together stay under FILES_MAX_BYTES.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MILEPOST_PLUGINS: "test/fixtures/test-processors.mjs", FILES_MAX_BYTES: "100000" });
});
afterAll(() => server.stop());

type Item = { id: string; status: string; attempts: number; error: string | null; result: { url?: string } | null };
const ITEM = "id status attempts error result";
async function run(key: string, storeBytes: number): Promise<Item> {
  const { data } = await server.gql<{ enqueue: { added: { id: string }[] } }>(`mutation($input: EnqueueInput!) { enqueue(input: $input) { added { id } } }`, {
    input: { queue: "echo", maxAttempts: 1, items: [{ key, payload: { storeBytes } }] },
  });
  const id = data!.enqueue.added[0].id;
  let item: Item | undefined;
  await expect
    .poll(async () => {
      item = (await server.gql<{ queueItem: Item }>(`query($id: ID!) { queueItem(id: $id) { ${ITEM} } }`, { id })).data!.queueItem;
      return ["COMPLETED", "FAILED"].includes(item.status);
    }, { timeout: 10_000 })
    .toBe(true);
  return item!;
}
const fetchFile = (url: string) => fetch(new URL(url, server.url), { headers: { authorization: `Bearer ${server.adminToken}` } });

it("refuses a file that would pass FILES_MAX_BYTES, saying so; files are deleted with their items, which frees the space", async () => {
  const first = await run("first", 60_000);
  expect(first.status).toBe("COMPLETED");
  const served = await fetchFile(first.result!.url!);
  expect(served.status).toBe(200);
  expect((await served.arrayBuffer()).byteLength).toBe(60_000);

  const second = await run("second", 60_000);
  expect(second).toMatchObject({ status: "FAILED", error: expect.stringMatching(/would pass FILES_MAX_BYTES \(100000\): 60000 bytes of files are stored/) });
  expect(await prisma().storedFile.count()).toBe(1);

  expect((await server.gql<{ cleanQueue: number }>(`mutation { cleanQueue(queue: "echo", olderThanDays: 0) }`)).data!.cleanQueue).toBe(2);
  expect(await prisma().storedFile.count()).toBe(0);
  expect((await fetchFile(first.result!.url!)).status).toBe(404);
  expect((await run("third", 60_000)).status).toBe("COMPLETED");
});

it("deletes a job step's files with its job", async () => {
  const created = await server.gql<{ createJob: { id: string } }>(`mutation($input: CreateJobInput!) { createJob(input: $input) { id } }`, {
    input: { kind: "echo", name: "files", steps: [{ name: "one", input: { storeBytes: 1000 } }] },
  });
  const jobId = Number(created.data!.createJob.id);
  await expect.poll(async () => (await prisma().job.findUniqueOrThrow({ where: { id: jobId } })).status, { timeout: 10_000 }).toBe("COMPLETED");
  const steps = await prisma().jobStep.findMany({ where: { jobId }, select: { id: true } });
  expect(await prisma().storedFile.count({ where: { ownerKind: "JOB_STEP", ownerId: steps[0].id } })).toBe(1);
  await prisma().job.delete({ where: { id: jobId } });
  expect(await prisma().storedFile.count({ where: { ownerKind: "JOB_STEP" } })).toBe(0);
});
