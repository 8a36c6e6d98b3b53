import { randomBytes } from "node:crypto";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { connect } from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { EVENTS_CHANNEL } from "../src/engine/events.js";
import { createEventHub, MAX_QUEUED_EVENTS, MAX_SUBSCRIPTIONS_PER_CONNECTION, MAX_SUBSCRIPTIONS_PER_TOKEN, TooManySubscriptionsError } from "../src/engine/event-hub.js";
import type { MilepostEvent } from "../src/engine/events.js";
import { liveState } from "../src/schema/live.js";
import { subscribe } from "./helpers/subscriptions.js";
import { spawnService, type ServiceProcess } from "./helpers/process.js";
import { release, track } from "./helpers/resources.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let other: ServiceProcess;

beforeAll(async () => {
  server = await startTestServer({ MILEPOST_ROLE: "api" });
  // A second api process on the same database: revocations and events must reach it too.
  other = await spawnService({ DATABASE_URL: server.databaseUrl, MILEPOST_ROLE: "api", MILEPOST_ADMIN_TOKEN: server.adminToken });
});
afterAll(async () => {
  await other?.stop();
  await server.stop();
});

async function newToken(): Promise<{ id: string; token: string }> {
  const created = await server.gql<{ createApiToken: { token: string; apiToken: { id: string } } }>(`mutation { createApiToken(name: "subscriber", role: VIEWER) { token apiToken { id } } }`);
  return { id: created.data!.createApiToken.apiToken.id, token: created.data!.createApiToken.token };
}

const SUBSCRIPTION = `subscription { events(kinds: [LOG]) { id ... on LogEvent { message } } }`;

/** A raw graphql-ws connection with one subscription, whose reading can be paused. */
async function rawSubscriber(url: string, token: string) {
  const socket = track(new WebSocket(url.replace(/^http/, "ws"), "graphql-transport-ws"), "raw WebSocket");
  const messages: string[] = [];
  const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
  void closed.then(() => release(socket));
  socket.on("message", (data) => messages.push(String(data)));
  await new Promise((resolve) => socket.once("open", resolve));
  socket.send(JSON.stringify({ type: "connection_init", payload: { token } }));
  await new Promise((resolve) => socket.once("message", resolve));
  socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: SUBSCRIPTION } }));
  return { socket, messages, closed };
}

/** Encodes a masked client text frame (RFC 6455 5.2), for a client written with nothing but a TCP socket. */
function frame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const length = payload.length < 126 ? Buffer.from([0x80 | payload.length]) : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 255]);
  const masked = Buffer.from(payload.map((byte, index) => byte ^ mask[index % 4]));
  return Buffer.concat([Buffer.from([0x81]), length, mask, masked]);
}

/**
 * A graphql-ws subscriber on a bare TCP socket that, once subscribed, reads
 * nothing until `resume` (a library client may resume its socket by itself).
 */
async function stalledWebSocket(url: string, token: string) {
  const { hostname, port, pathname } = new URL(url);
  const socket = track(connect(Number(port), hostname), "raw TCP socket");
  let received = 0;
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  void closed.then(() => release(socket));
  socket.on("error", () => undefined); // the server cuts it: ECONNRESET is the expected end
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(
    `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n`,
  );
  socket.on("data", (chunk: Buffer) => (received += chunk.length));
  await new Promise((resolve) => socket.once("data", resolve)); // 101 Switching Protocols
  socket.write(frame(JSON.stringify({ type: "connection_init", payload: { token } })));
  await new Promise((resolve) => socket.once("data", resolve)); // connection_ack
  socket.write(frame(JSON.stringify({ id: "1", type: "subscribe", payload: { query: SUBSCRIPTION } })));
  await untilSubscribed(() => received);
  socket.pause();
  return { closed, received: () => received, resume: () => socket.resume() };
}

/** A server-sent-events subscription over HTTP, whose reading can be paused. */
async function sseSubscriber(url: string, token: string) {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const request = httpRequest(url, { method: "POST", headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${token}` } }, resolve);
    request.on("error", reject);
    request.end(JSON.stringify({ query: SUBSCRIPTION }));
  });
  track(response, "SSE response");
  let text = "";
  response.on("data", (chunk: Buffer) => (text += chunk.toString()));
  const ended = new Promise<void>((resolve) => response.once("close", () => resolve()));
  void ended.then(() => release(response));
  return { response, text: () => text, ended };
}

/** Sends single events until `received` grows: then the subscription is live (setting it up takes a while on a busy machine). */
async function untilSubscribed(received: () => number): Promise<void> {
  for (let before = received(); received() === before; ) {
    await flood(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** NOTIFYs `count` LOG events of about 4 kB each in one statement, as the workers' statements would. */
async function flood(count: number): Promise<void> {
  const db = new pg.Client({ connectionString: server.databaseUrl });
  await db.connect();
  try {
    await db.query(
      `SELECT pg_notify($1, json_build_object('event', json_build_object('id', n::text, 'kind', 'LOG', 'subjectKind', 'IMPORT', 'subjectId', 1, 'at', now(), 'level', 'INFO', 'message', repeat('x', 4000)))::text)
       FROM generate_series(1, $2::int) AS n`,
      [EVENTS_CHANNEL, count],
    );
  } finally {
    await db.end();
  }
}

describe("revoking a token", () => {
  it("ends its subscriptions within a second, in every api process: WebSockets close with 4403, SSE streams end", async () => {
    const { id, token } = await newToken();
    const ws = await rawSubscriber(other.url!, token);
    const sse = await sseSubscriber(other.url!, token);
    const localWs = await rawSubscriber(server.url, token);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the subscriptions are set up

    const revokedAt = Date.now();
    const revoked = await server.gql(`mutation($id: ID!) { revokeApiToken(id: $id) { id } }`, { id });
    expect(revoked.errors).toBeUndefined();
    const [remoteCode, localCode] = await Promise.all([ws.closed, localWs.closed, sse.ended]);
    expect(Date.now() - revokedAt).toBeLessThan(1000);
    expect(remoteCode).toBe(4403);
    expect(localCode).toBe(4403);
    expect(sse.text()).toMatch(/UNAUTHENTICATED/);
  });
});

describe("a subscriber that stops reading", () => {
  it("is disconnected over WebSockets once its unsent data passes the limit, and the server goes on", async () => {
    const { token } = await newToken();
    const reader = await rawSubscriber(server.url, token);
    const stalled = await stalledWebSocket(server.url, token);
    // The kernel's socket buffers take a share that depends on TCP autotuning (up to tens of MB here), so events
    // are sent in rounds until the server lets the stalled client go; 4x the queue's limit is more than they hold.
    const round = 1000;
    let sent = 0;
    let cut = false;
    void stalled.closed.then(() => (cut = true));
    while (!cut && sent < MAX_QUEUED_EVENTS * 4) {
      await flood(round); // ≈ 4 MB
      sent += round;
      await expect.poll(() => reader.messages.length, { timeout: 20_000 }).toBeGreaterThan(sent);
    }
    stalled.resume();
    const timedOut = new Promise<string>((resolve) => setTimeout(() => resolve("still connected"), 15_000).unref());
    expect(await Promise.race([stalled.closed.then(() => "disconnected"), timedOut])).toBe("disconnected");
    expect(stalled.received()).toBeLessThan(sent * 4000);
    const health = await server.gql<{ health: { database: boolean } }>("{ health { database } }");
    expect(health.data?.health.database).toBe(true);
    reader.socket.close();
    await reader.closed;
  }, 90_000);

  it(`is disconnected over server-sent events once it falls ${MAX_QUEUED_EVENTS} events behind`, async () => {
    const { token } = await newToken();
    const reader = await rawSubscriber(server.url, token);
    const stalled = await sseSubscriber(server.url, token);
    await untilSubscribed(() => stalled.text().split("event: next").length);
    stalled.response.pause();
    await flood(MAX_QUEUED_EVENTS * 2); // the sockets' buffers take some; the rest waits in the server
    // Once a reading subscriber has them all, the server has offered them all to the stalled one too.
    await expect.poll(() => reader.messages.length, { timeout: 20_000 }).toBeGreaterThan(MAX_QUEUED_EVENTS * 2);
    stalled.response.resume();
    const timedOut = new Promise<string>((resolve) => setTimeout(() => resolve("still connected"), 15_000).unref());
    expect(await Promise.race([stalled.ended.then(() => "disconnected"), timedOut])).toBe("disconnected");
    expect(stalled.text().split("event: next").length - 1).toBeLessThan(MAX_QUEUED_EVENTS * 2);
    const health = await server.gql<{ health: { database: boolean } }>("{ health { database } }");
    expect(health.data?.health.database).toBe(true);
    reader.socket.close();
    await reader.closed;
  }, 40_000);
});

describe("what subscribers may cost", () => {
  it("refuses a subscription past 50 on one connection, with a clear error, and takes one again once another ends", async () => {
    const client = server.ws();
    const QUEUE = `subscription($queue: String) { queueStatusUpdated(queue: $queue) { pending } }`;
    const open = Array.from({ length: MAX_SUBSCRIPTIONS_PER_CONNECTION }, (_, index) => subscribe(client, QUEUE, { queue: `q${index}` }));
    await Promise.all(open.map((subscription) => subscription.next()));
    const refused = subscribe(client, QUEUE, { queue: "one-too-many" });
    await expect(refused.next()).rejects.toThrow(/"code":"RATE_LIMITED".*|holds 50 subscriptions/);
    await open[0].close();
    // The server lets the completed one go as the message arrives.
    await expect
      .poll(async () => {
        const again = subscribe(client, QUEUE, { queue: "again" });
        const answer = await again.next().then((value) => JSON.stringify(value), (error: Error) => error.message);
        await again.close();
        return answer;
      }, { timeout: 5000 })
      .toBe(JSON.stringify({ queueStatusUpdated: { pending: 0 } }));
    await Promise.all(open.slice(1).map((subscription) => subscription.close()));
  });

  it("counts a token's subscriptions across its connections", () => {
    const hub = createEventHub();
    const listeners = Array.from({ length: MAX_SUBSCRIPTIONS_PER_TOKEN }, (_, index) => hub.listen({ tokenId: 7, connection: { index: Math.floor(index / 10) } }));
    expect(() => hub.listen({ tokenId: 7, connection: {} })).toThrow(TooManySubscriptionsError);
    expect(() => hub.listen({ tokenId: 8, connection: {} })).not.toThrow();
    listeners[0].close();
    expect(() => hub.listen({ tokenId: 7, connection: {} })).not.toThrow();
  });

  it("reads a state once per event for all of its subscribers, however many", async () => {
    const hub = createEventHub();
    let reads = 0;
    const read = async () => {
      reads++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { reads };
    };
    const streams = Array.from({ length: 100 }, () => liveState(hub.listen({ scope: { kind: "QUEUE_ITEM", scope: "shared" } }), "queue:shared", read));
    await Promise.all(streams.map((stream) => stream.next()));
    expect(reads).toBe(100); // each subscriber's first state is its own
    hub.publish({ id: "41", kind: "STATUS", subjectKind: "QUEUE_ITEM", subjectId: 1, scope: "shared", at: new Date(), from: "PENDING", to: "RUNNING", reason: "claimed" } as MilepostEvent);
    const after = await Promise.all(streams.map((stream) => stream.next()));
    expect(reads).toBe(101);
    expect(new Set(after.map((result) => JSON.stringify(result.value)))).toEqual(new Set([JSON.stringify({ reads: 101 })]));
    await Promise.all(streams.map((stream) => stream.return(undefined)));
  });
});
