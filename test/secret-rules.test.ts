import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { prisma } from "../src/db/client.js";
import { createHttpClient } from "../src/engine/http-client.js";
import { logger } from "../src/logger.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// Each rule of secrets and inputs, with a test that fails when the rule is broken on purpose.

const SECRET = "port-bound-s3cret-value";
const NAME = "MP_PORT_KEY";

/** A loopback server that records the headers and URL of every request; `redirectTo` sends each on with a 302. */
async function recorder(redirectTo?: () => string) {
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  const server: Server = createServer((request, response) => {
    seen.push({ url: request.url ?? "", headers: request.headers });
    if (redirectTo) {
      response.writeHead(302, { location: `${redirectTo()}${request.url}` });
      return void response.end();
    }
    response.writeHead(200, { "content-type": "application/json" });
    response.end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { seen, port, url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

let server: TestServer;
let granted: Awaited<ReturnType<typeof recorder>>;
let otherPort: Awaited<ReturnType<typeof recorder>>;
let redirecting: Awaited<ReturnType<typeof recorder>>;

beforeAll(async () => {
  granted = await recorder();
  otherPort = await recorder();
  // Granted too, and redirects to another origin (another port of the same host).
  redirecting = await recorder(() => otherPort.url);
  process.env[NAME] = SECRET;
  server = await startTestServer({
    MILEPOST_SECRETS: `${NAME}@127.0.0.1:${granted.port},${NAME}@127.0.0.1:${redirecting.port}`,
    MILEPOST_PLUGINS: "test/fixtures/test-processors.mjs,test/fixtures/plugin-source.mjs",
    MAX_RETRIES: "0",
  });
});
afterAll(async () => {
  await server?.stop();
  await Promise.all([granted, otherPort, redirecting].map((upstream) => upstream?.close()));
  delete process.env[NAME];
});

const client = () => createHttpClient({ maxRetries: 0, retryDelayMs: 10, backoffFactor: 1, timeoutMs: 2000 }, logger);
const request = { signal: new AbortController().signal, headers: { "x-api-key": { $env: NAME } }, query: { key: { $env: NAME } } };

it("sends a secret granted for host:port to that port only, never to another port of the same host", async () => {
  await client().request(`${granted.url}/a`, request);
  expect(granted.seen.at(-1)!.headers["x-api-key"]).toBe(SECRET);
  expect(granted.seen.at(-1)!.url).toContain(encodeURIComponent(SECRET).replace(/%2D/g, "-"));
  await client().request(`${otherPort.url}/b`, request);
  expect(otherPort.seen.at(-1)!.headers["x-api-key"]).toBeUndefined();
  expect(otherPort.seen.at(-1)!.url).not.toContain("key=");
});

it("does not carry a secret in a custom header (or the query) along a redirect to another origin", async () => {
  const before = otherPort.seen.length;
  const answer = await client().request(`${redirecting.url}/c`, request);
  expect(answer.status).toBe(200);
  expect(redirecting.seen.at(-1)!.headers["x-api-key"]).toBe(SECRET);
  const followed = otherPort.seen.slice(before);
  expect(followed).toHaveLength(1);
  expect(followed[0].headers["x-api-key"]).toBeUndefined();
  expect(followed[0].url).not.toContain(SECRET);
});

it("redacts a secret that a processor or a source writes into a log line or an unexpected error", async () => {
  const enqueued = await server.gql<{ enqueue: { added: { id: string }[] } }>(`mutation($input: EnqueueInput!) { enqueue(input: $input) { added { id } } }`, {
    input: { queue: "echo", maxAttempts: 1, items: [{ key: "leak", payload: { leakEnv: NAME } }] },
  });
  const id = Number(enqueued.data!.enqueue.added[0].id);
  await expect.poll(async () => (await prisma().queueItem.findUniqueOrThrow({ where: { id } })).status, { timeout: 10_000 }).toBe("FAILED");
  const item = await prisma().queueItem.findUniqueOrThrow({ where: { id } });
  expect(item.error).toContain(`[redacted:${NAME}]`);
  const started = await server.gql<{ startImport: { id: string } }>(`mutation($input: StartImportInput!) { startImport(input: $input) { id } }`, { input: { source: "countdown", config: { from: 6, leakEnv: NAME } } });
  const importId = Number(started.data!.startImport.id);
  await expect.poll(async () => (await prisma().import.findUniqueOrThrow({ where: { id: importId } })).status, { timeout: 10_000 }).toBe("COMPLETED");
  const logs = await prisma().event.findMany({ where: { kind: "LOG", OR: [{ subjectKind: "QUEUE_ITEM", subjectId: id }, { subjectKind: "IMPORT", subjectId: importId }] } });
  const messages = logs.map((event) => (event.payload as { message: string }).message);
  expect(messages.filter((message) => message.startsWith("using key"))).toEqual([`using key [redacted:${NAME}]`, `using key [redacted:${NAME}]`]);
  const everything = JSON.stringify([item, logs.map((event) => event.payload)]);
  expect(everything).not.toContain(SECRET);
});

it("takes JSON input at exactly the documented depth and refuses one level more; refuses U+0000 in an object key", async () => {
  const ENQUEUE = `mutation($input: EnqueueInput!) { enqueue(input: $input) { added { id } skipped { reason } } }`;
  const nest = (levels: number) => {
    let value: unknown = 1;
    for (let level = 0; level < levels; level++) value = { d: value };
    return value;
  };
  const at = await server.gql(`query($payload: JSON) { queueItems(payload: $payload) { totalCount } }`, { payload: nest(10) });
  expect(at.errors).toBeUndefined();
  const past = await server.gql(`query($payload: JSON) { queueItems(payload: $payload) { totalCount } }`, { payload: nest(11) });
  expect(past.errors?.[0]).toMatchObject({ message: expect.stringMatching(/deeper than 10 levels/), extensions: { code: "BAD_USER_INPUT" } });
  const key = await server.gql(ENQUEUE, { input: { queue: "echo", items: [{ key: "k", payload: { "a\u0000b": 1 } }] } });
  expect(key.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", fields: [expect.stringMatching(/^input\.items\.0\.payload\.a/)] });
});
