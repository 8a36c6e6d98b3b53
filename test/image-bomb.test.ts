import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SVG_BOMB } from "../src/demo/pages.js";
import { startDemoServer } from "../src/demo/upstream.js";
import { normaliseInChild } from "../src/processors/image/sandbox.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// A 270-byte SVG filter bomb: refused by default; where allowed, stopped by its budget or a cancel, and its process gone.

let server: TestServer;
let demo: Awaited<ReturnType<typeof startDemoServer>>;
beforeAll(async () => {
  demo = await startDemoServer({ items: 10, pageSize: 10 });
  server = await startTestServer({});
});
afterAll(async () => {
  await server?.stop();
  await demo.close();
});

/** Image child processes alive now. */
const children = () => {
  try {
    return execFileSync("pgrep", ["-f", "processors/image/child.ts"], { encoding: "utf8" }).trim().split("\n").filter(Boolean).length;
  } catch {
    return 0; // pgrep exits 1 when none match
  }
};

it("fails an SVG at once unless IMAGE_ALLOW_SVG is on", async () => {
  const started = Date.now();
  const { data } = await server.gql<{ enqueue: { added: { id: string }[] } }>(`mutation($input: EnqueueInput!) { enqueue(input: $input) { added { id } } }`, {
    input: { queue: "image-normalize", items: [{ key: "bomb", payload: { url: `${demo.url}/images/bomb.svg` } }] },
  });
  let item: { status: string; attempts: number; error: string | null } | undefined;
  await expect
    .poll(async () => {
      item = (await server.gql<{ queueItem: NonNullable<typeof item> }>(`query($id: ID!) { queueItem(id: $id) { status attempts error } }`, { id: data!.enqueue.added[0].id })).data!.queueItem;
      return item.status;
    }, { timeout: 10_000 })
    .toBe("FAILED");
  expect(item).toMatchObject({ attempts: 1, error: expect.stringMatching(/SVG input is refused \(IMAGE_ALLOW_SVG=off\)/) });
  expect(Date.now() - started).toBeLessThan(5000);
});

it("kills the child at its budget, and at once on a cancel, where SVG is allowed", async () => {
  const bomb = Buffer.from(SVG_BOMB);
  expect(bomb.length).toBe(270);
  const budget = { timeMs: 2000, memoryMb: 2048, allowSvg: true };
  let started = Date.now();
  await expect(normaliseInChild(bomb, budget, new AbortController().signal)).rejects.toThrow(/longer than IMAGE_BUDGET_MS \(2000 ms\)/);
  expect(Date.now() - started).toBeLessThan(4000);
  await expect.poll(children, { timeout: 2000 }).toBe(0);

  const cancel = new AbortController();
  started = Date.now();
  const running = normaliseInChild(bomb, { ...budget, timeMs: 60_000 }, cancel.signal);
  await expect.poll(children, { timeout: 5000 }).toBe(1);
  cancel.abort(new Error("cancelled on request"));
  await expect(running).rejects.toThrow(/cancelled on request/);
  expect(Date.now() - started).toBeLessThan(8000);
  await expect.poll(children, { timeout: 2000 }).toBe(0);
});
