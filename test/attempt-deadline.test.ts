import { afterAll, beforeAll, expect, it } from "vitest";
import { startDemoServer } from "../src/demo/upstream.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// One slow site, or one runaway processor, holds a worker slot for one attempt's time at most, and maxAttempts bounds the total.

let server: TestServer;
let demo: Awaited<ReturnType<typeof startDemoServer>>;
beforeAll(async () => {
  demo = await startDemoServer({ items: 10, pageSize: 10 });
  // API_TIMEOUT_MS and MAX_RETRIES alone would allow 4 tries of 30 s per attempt.
  server = await startTestServer({ MILEPOST_PLUGINS: "test/fixtures/test-processors.mjs", ATTEMPT_TIMEOUT_MS: "800", API_TIMEOUT_MS: "30000", MAX_RETRIES: "3", RETRY_DELAY_MS: "50", WORKER_CONCURRENCY: "1" });
});
afterAll(async () => {
  await server?.stop();
  await demo.close();
});

type Item = { status: string; attempts: number; error: string | null };
async function settled(id: string, timeout: number): Promise<Item> {
  let item: Item | undefined;
  await expect
    .poll(async () => {
      item = (await server.gql<{ queueItem: Item }>(`query($id: ID!) { queueItem(id: $id) { status attempts error } }`, { id })).data!.queueItem;
      return item.status;
    }, { timeout, interval: 100 })
    .toBe("FAILED");
  return item!;
}

it("stops an attempt at ATTEMPT_TIMEOUT_MS, requests included, and fails the item after maxAttempts", async () => {
  const started = Date.now();
  const { data } = await server.gql<{ enqueue: { added: { id: string }[] } }>(`mutation($input: EnqueueInput!) { enqueue(input: $input) { added { id } } }`, {
    input: { queue: "http-check", maxAttempts: 2, items: [{ key: "slow", payload: { url: `${demo.url}/pages/home?delayMs=10000` } }] },
  });
  const item = await settled(data!.enqueue.added[0].id, 10_000);
  expect(item).toMatchObject({ attempts: 2, error: expect.stringMatching(/ATTEMPT_TIMEOUT_MS \(800 ms\)/) });
  // Two attempts of 0.8 s and a short backoff, not two of four 30 s tries.
  expect(Date.now() - started).toBeLessThan(6000);
});

it("ends the attempt of a processor that ignores its signal, and frees its slot", async () => {
  const { data } = await server.gql<{ enqueue: { added: { id: string }[] } }>(`mutation($input: EnqueueInput!) { enqueue(input: $input) { added { id } } }`, {
    input: { queue: "echo", maxAttempts: 1, items: [{ key: "deaf", payload: { deafMs: 60_000 } }] },
  });
  const item = await settled(data!.enqueue.added[0].id, 15_000);
  expect(item).toMatchObject({ attempts: 1, error: expect.stringMatching(/ATTEMPT_TIMEOUT_MS/) });
  const next = await server.gql<{ enqueue: { added: { id: string }[] } }>(`mutation($input: EnqueueInput!) { enqueue(input: $input) { added { id } } }`, { input: { queue: "echo", items: [{ key: "after", payload: { n: 1 } }] } });
  await expect.poll(async () => (await server.gql<{ queueItem: Item }>(`query($id: ID!) { queueItem(id: $id) { status } }`, { id: next.data!.enqueue.added[0].id })).data!.queueItem.status, { timeout: 5000 }).toBe("COMPLETED");
});
