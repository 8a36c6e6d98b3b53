// What hostile clients cost the service, measured on a real server process:
// - an alias bomb (1,650 and 300 aliases of `records(first: 1000)`, and 20
//   that pass the alias limit but not the cost limit): how long a refusal
//   takes, and how long an ordinary query waits meanwhile;
// - 100 clients that ask for GraphiQL's page (no token needed) and never
//   read, without and with gzip: the server's RSS before, at the peak, and
//   after they are cut off;
// - 200 WebSocket subscribers that stop reading while 20 MB of events go
//   out: the server's RSS before, at the peak, and after they are cut off.
// Prints one JSON document.
//
//   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench:hostile
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { createInterface } from "node:readline";
import pg from "pg";

const server = (process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres").replace(/\/[^/]*$/, "");
const database = `milepost_bench_hostile_${Date.now()}`;
const token = `mp_bench_${randomBytes(16).toString("hex")}`;
const SUBSCRIBERS = 200;
const EVENTS = 8000; // × 4 kB: more than the 5,000 a subscriber may fall behind, after what the sockets hold

const child = spawn(process.execPath, ["--import", "tsx", "src/server.ts"], {
  env: { ...process.env, DATABASE_URL: `${server}/${database}`, PORT: "0", LOG_LEVEL: "info", MILEPOST_ADMIN_TOKEN: token, MILEPOST_ROLE: "api" },
  stdio: ["ignore", "pipe", "inherit"],
});
const url = await new Promise<string>((resolve) => {
  createInterface({ input: child.stdout }).on("line", (line) => {
    if (line.includes('"msg":"milepost started"')) resolve((JSON.parse(line) as { url: string }).url);
  });
});
const rssMb = () => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) / 1024);

async function post(query: string): Promise<{ ms: number; status: number; code?: string }> {
  const started = performance.now();
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) });
  const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
  return { ms: performance.now() - started, status: response.status, code: body.errors?.[0]?.extensions?.code };
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const aliases = (count: number) => `{ ${Array.from({ length: count }, (_, index) => `r${index}: records(dataset: "d", first: 1000) { edges { node { id data } } }`).join(" ")} }`;

// Some records, so an accepted query would have rows to read.
const db = new pg.Client({ connectionString: `${server}/${database}` });
await db.connect();
await db.query(`INSERT INTO "ImportedRecord" (dataset, "externalId", data) SELECT 'd', n::text, jsonb_build_object('title', repeat('x', 200), 'n', n) FROM generate_series(1, 5000) n`);

const bombs: Record<string, { refusedWith: string | undefined; medianMs: number; healthDuringMs: number }> = {};
for (const count of [1650, 300, 20]) {
  const times: number[] = [];
  const health: number[] = [];
  let code: string | undefined;
  for (let round = 0; round < 20; round++) {
    const [bomb, ordinary] = await Promise.all([post(aliases(count)), post("{ health { database } }")]);
    times.push(bomb.ms);
    health.push(ordinary.ms);
    code = `${bomb.status} ${bomb.code}`;
  }
  bombs[`aliases=${count}`] = { refusedWith: code, medianMs: Math.round(median(times) * 10) / 10, healthDuringMs: Math.round(median(health) * 10) / 10 };
}
const alone: number[] = [];
for (let round = 0; round < 20; round++) alone.push((await post("{ health { database } }")).ms);
const baselineHealthMs = Math.round(median(alone) * 10) / 10;

// 100 clients on bare sockets that ask for GraphiQL's page and never read.
const PAGE_CLIENTS = 100;
async function pageHogs(encoding: string) {
  const before = rssMb();
  const sockets = await Promise.all(
    Array.from({ length: PAGE_CLIENTS }, async () => {
      const socket = connect(Number(new URL(url).port), new URL(url).hostname);
      socket.on("error", () => undefined);
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
      await new Promise((resolve) => socket.once("connect", resolve));
      socket.pause();
      socket.write(`GET /graphql HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\nAccept-Encoding: ${encoding}\r\n\r\n`);
      return { socket, closed };
    }),
  );
  let peak = before;
  const started = Date.now();
  while (Date.now() - started < 5000) {
    peak = Math.max(peak, rssMb());
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // Each is cut once its unsent data has not moved for 30 s; its side closes when it reads again.
  await new Promise((resolve) => setTimeout(resolve, 33_000));
  for (const { socket } of sockets) socket.resume();
  let cut = 0;
  await Promise.race([Promise.all(sockets.map(({ closed }) => closed.then(() => cut++))), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  const after = rssMb();
  for (const { socket } of sockets) socket.destroy();
  return { clients: PAGE_CLIENTS, rssMb: { before, peak, afterTheCut: after }, peakCostMb: peak - before, cutOff: cut };
}
const graphiqlHogs = { identity: await pageHogs("identity"), gzip: await pageHogs("gzip") };

// 200 subscribers on bare sockets that stop reading once subscribed.
function frame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const length = payload.length < 126 ? Buffer.from([0x80 | payload.length]) : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 255]);
  return Buffer.concat([Buffer.from([0x81]), length, mask, Buffer.from(payload.map((byte, index) => byte ^ mask[index % 4]))]);
}
const { hostname, port, pathname } = new URL(url);
async function stalled(): Promise<{ socket: Socket; closed: Promise<void>; received: () => number }> {
  const socket = connect(Number(port), hostname);
  socket.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  let received = 0;
  socket.on("data", (chunk: Buffer) => (received += chunk.length));
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n`);
  await new Promise((resolve) => socket.once("data", resolve));
  socket.write(frame(JSON.stringify({ type: "connection_init", payload: { token } })));
  await new Promise((resolve) => socket.once("data", resolve));
  socket.write(frame(JSON.stringify({ id: "1", type: "subscribe", payload: { query: "subscription { events(kinds: [LOG]) { id ... on LogEvent { message } } }" } })));
  return { socket, closed, received: () => received };
}
const rssBefore = rssMb();
const clients = await Promise.all(Array.from({ length: SUBSCRIBERS }, stalled));
// Every subscription is live once each socket has received a first event.
const marks = clients.map((client) => client.received());
while (clients.some((client, index) => client.received() === marks[index])) {
  await db.query(`SELECT pg_notify('milepost_events', json_build_object('event', json_build_object('id', '0', 'kind', 'LOG', 'subjectKind', 'IMPORT', 'subjectId', 1, 'at', now(), 'level', 'INFO', 'message', 'ready?'))::text)`);
  await new Promise((resolve) => setTimeout(resolve, 200));
}
for (const client of clients) client.socket.pause();
const rssConnected = rssMb();
let peak = rssConnected;
const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 100);
await db.query(
  `SELECT pg_notify('milepost_events', json_build_object('event', json_build_object('id', n::text, 'kind', 'LOG', 'subjectKind', 'IMPORT', 'subjectId', 1, 'at', now(), 'level', 'INFO', 'message', repeat('x', 4000)))::text) FROM generate_series(1, $1::int) n`,
  [EVENTS],
);
// Let the server offer everything, then read again: a client the server cut off sees its connection end.
await new Promise((resolve) => setTimeout(resolve, 30_000));
clearInterval(sampler);
const rssAfter = rssMb();
for (const client of clients) client.socket.resume();
let stillOpen = SUBSCRIBERS;
for (const client of clients) void client.closed.then(() => stillOpen--);
await Promise.race([Promise.all(clients.map((client) => client.closed)), new Promise((resolve) => setTimeout(resolve, 20_000))]);
const receivedMb = Math.round(clients.reduce((sum, client) => sum + client.received(), 0) / SUBSCRIBERS / 1024 / 102.4) / 10;
for (const client of clients) client.socket.destroy();

console.log(
  JSON.stringify({
    aliasBombs: bombs,
    healthAloneMs: baselineHealthMs,
    graphiqlHogs,
    slowSubscribers: {
      subscribers: SUBSCRIBERS,
      eventsMb: (EVENTS * 4) / 1000,
      rssMb: { before: rssBefore, connected: rssConnected, peak, thirtySecondsAfterTheFlood: rssAfter },
      cutOff: SUBSCRIBERS - stillOpen,
      receivedMbPerSubscriber: receivedMb,
    },
  }),
);
await db.end();
child.kill("SIGTERM");
await new Promise((resolve) => child.once("exit", resolve));
const admin = new pg.Client({ connectionString: `${server}/postgres` });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
await admin.end();
