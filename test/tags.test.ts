import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";

// Tags and metadata on queue items and jobs: kept beside the payload, never seen by the processor (whose input is
// checked strictly), filterable by tags (all of them) and by metadata containment.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MILEPOST_PLUGINS: "test/fixtures/test-processors.mjs" });
});
afterAll(() => server?.stop());

type Item = { key: string; status: string; tags: string[]; meta: unknown; result: unknown };
const keys = (answer: { data?: { queueItems: { edges: { node: { key: string } }[] } } }) => answer.data!.queueItems.edges.map((edge) => edge.node.key).sort();

it("keeps queue items' tags and meta beside the payload, out of the processor's sight, and filters by them", async () => {
  const enqueued = await server.gql<{ enqueue: { added: Item[]; skipped: unknown[] } }>(
    `mutation($items: [EnqueueItemInput!]!) { enqueue(input: { queue: "echo", items: $items }) { added { key tags meta } skipped { key reason message } } }`,
    {
      items: [
        { key: "a", payload: { n: 1 }, tags: ["nightly", "team:web", "nightly"], meta: { team: "web", ticket: { id: 7 } } },
        { key: "b", payload: { n: 2 }, tags: ["nightly"], meta: { team: "data" } },
        { key: "c", payload: { n: 3 } },
      ],
    },
  );
  expect(enqueued.data!.enqueue.skipped).toEqual([]);
  expect(enqueued.data!.enqueue.added[0]).toEqual({ key: "a", tags: ["nightly", "team:web"], meta: { team: "web", ticket: { id: 7 } } });
  expect(enqueued.data!.enqueue.added[2]).toEqual({ key: "c", tags: [], meta: null });

  const all = async () => (await server.gql<{ queueItems: { edges: { node: Item }[] } }>(`{ queueItems(queue: "echo") { edges { node { key status tags meta result } } } }`)).data!.queueItems.edges.map((edge) => edge.node);
  await expect.poll(async () => (await all()).every((item) => item.status === "COMPLETED"), { timeout: 10_000 }).toBe(true);
  // The processor got its payload alone: echo returns its input.
  for (const item of await all()) expect(JSON.stringify(item.result)).not.toMatch(/nightly|team/);

  const filtered = (args: string) => server.gql<{ queueItems: { edges: { node: { key: string } }[] } }>(`{ queueItems(queue: "echo", ${args}) { edges { node { key } } } }`);
  expect(keys(await filtered(`tags: ["nightly"]`))).toEqual(["a", "b"]);
  expect(keys(await filtered(`tags: ["nightly", "team:web"]`))).toEqual(["a"]);
  expect(keys(await filtered(`meta: { ticket: { id: 7 } }`))).toEqual(["a"]);
  expect(keys(await filtered(`meta: { team: "data" }, tags: ["nightly"]`))).toEqual(["b"]);
  expect(keys(await filtered(`tags: ["nobody"]`))).toEqual([]);
});

it("keeps jobs' tags and meta, and filters jobs by them", async () => {
  const create = (name: string, tags: string[], meta: unknown) =>
    server.gql<{ createJob: { id: string; tags: string[]; meta: unknown } }>(`mutation($input: CreateJobInput!) { createJob(input: $input) { id tags meta } }`, {
      input: { kind: "echo", name, tags, meta, steps: [{ name: "one", input: { n: 1 } }] },
    });
  const first = await create("first", ["release-1.2", "nightly"], { owner: "ops", env: "prod" });
  expect(first.data!.createJob).toMatchObject({ tags: ["release-1.2", "nightly"], meta: { owner: "ops", env: "prod" } });
  await create("second", ["nightly"], { owner: "dev" });
  const names = async (args: string) =>
    (await server.gql<{ jobs: { totalCount: number; edges: { node: { name: string } }[] } }>(`{ jobs(${args}) { totalCount edges { node { name } } } }`)).data!.jobs.edges.map((edge) => edge.node.name).sort();
  expect(await names(`tags: ["nightly"]`)).toEqual(["first", "second"]);
  expect(await names(`tags: ["nightly", "release-1.2"]`)).toEqual(["first"]);
  expect(await names(`meta: { env: "prod" }`)).toEqual(["first"]);
  expect(await names(`meta: { owner: "dev" }, tags: ["nightly"]`)).toEqual(["second"]);
  const counted = await server.gql<{ jobs: { totalCount: number } }>(`{ jobs(meta: { owner: "ops" }) { totalCount } }`);
  expect(counted.data!.jobs.totalCount).toBe(1);
});

it("refuses bad tags and meta with BAD_USER_INPUT naming the field, before anything is written", async () => {
  const enqueue = (item: Record<string, unknown>) =>
    server.gql(`mutation($items: [EnqueueItemInput!]!) { enqueue(input: { queue: "echo", items: $items }) { added { key } } }`, { items: [{ key: "bad", payload: { n: 1 }, ...item }] });
  const refused = async (answer: Promise<{ errors?: { message: string; extensions?: Record<string, unknown> }[] }>, field: string, text: RegExp) => {
    const { errors } = await answer;
    expect(errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(errors![0].extensions!.fields).toContain(field);
    expect(errors![0].message).toMatch(text);
  };
  await refused(enqueue({ tags: [""] }), "input.items.0.tags.0", /a tag is 1 to 63/);
  await refused(enqueue({ tags: ["-leading"] }), "input.items.0.tags.0", /starting with a letter or digit/);
  await refused(enqueue({ tags: ["x".repeat(64)] }), "input.items.0.tags.0", /a tag is/);
  await refused(enqueue({ tags: ["a\u001b[2Jb"] }), "input.items.0.tags.0", /a tag is/);
  await refused(enqueue({ tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }), "input.items.0.tags", /at most 20 tags/);
  await refused(enqueue({ meta: [1, 2] }), "input.items.0.meta", /object/);
  await refused(enqueue({ meta: "text" }), "input.items.0.meta", /object/);
  await refused(enqueue({ meta: { blob: "x".repeat(9000) } }), "input.items.0.meta", /at most 8192 bytes/);
  await refused(
    server.gql(`mutation { createJob(input: { kind: "echo", name: "j", tags: ["ok", "no;semicolons"], steps: [{ name: "s", input: {} }] }) { id } }`),
    "input.tags.1",
    /a tag is/,
  );
  await refused(server.gql(`{ queueItems(tags: ["%"]) { totalCount } }`), "tags.0", /a tag is/);
  await refused(server.gql(`{ jobs(meta: [1]) { totalCount } }`), "meta", /object/);
  const { data } = await server.gql<{ queueItems: { totalCount: number } }>(`{ queueItems(queue: "echo", search: "bad") { totalCount } }`);
  expect(data!.queueItems.totalCount).toBe(0);
});
