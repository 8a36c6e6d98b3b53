import { afterAll, beforeAll, expect, it } from "vitest";
import WebSocket from "ws";
import { MAX_DEPTH, MAX_DOCUMENT_BYTES } from "../src/http/limits.js";
import { postGraphQL, startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

const post = (body: unknown, headers?: Record<string, string>) => postGraphQL(server.url, body, server.adminToken, headers);

it("refuses an unknown field with a validation error naming it", async () => {
  const expected = { message: 'Cannot query field "uptime" on type "Health".', extensions: { code: "BAD_USER_INPUT", reason: "GRAPHQL_VALIDATION_FAILED" } };
  // GraphQL over HTTP: 200 for application/json, 400 for application/graphql-response+json.
  const json = await post({ query: "{ health { ok uptime } }" });
  expect(json.errors?.[0]).toMatchObject(expected);
  const graphqlResponse = await post({ query: "{ health { ok uptime } }" }, { accept: "application/graphql-response+json" });
  expect(graphqlResponse.status).toBe(400);
  expect(graphqlResponse.errors?.[0]).toMatchObject(expected);
});

it("refuses a variable of the wrong type", async () => {
  const response = await post({ query: "mutation($id: ID!) { revokeApiToken(id: $id) { id } }", variables: { id: { nested: true } } });
  expect(response.status).toBe(400);
  expect(response.errors?.[0].message).toContain('Variable "$id"');
  expect(response.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
});

it(`refuses a selection deeper than ${MAX_DEPTH}`, async () => {
  const depth = MAX_DEPTH + 1;
  const response = await post({ query: `{ ${"a { ".repeat(depth)}b${" }".repeat(depth)} }` });
  expect(response.errors?.[0].message).toMatch(/depth limit of 15 exceeded/i);
  expect(response.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
});

it(`refuses a document over ${MAX_DOCUMENT_BYTES / 1024} kB with 413`, async () => {
  const query = `{ health { ok } } # ${"x".repeat(MAX_DOCUMENT_BYTES)}`;
  const response = await post({ query });
  expect(response.status).toBe(413);
  expect(response.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
});

it("refuses malformed JSON and a body over the limit without falling over", async () => {
  const malformed = await fetch(server.url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${server.adminToken}` },
    body: '{"query": "{ health { ok } }"',
  });
  expect(malformed.status).toBe(400);
  const huge = await fetch(server.url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${server.adminToken}` },
    body: JSON.stringify({ query: "{ health { ok } }", variables: { blob: "x".repeat(11 * 1024 * 1024) } }),
  });
  expect(huge.status).toBe(413);
  const health = await post({ query: "{ health { database } }" });
  expect(health.data).toEqual({ health: { database: true } });
});

it("closes a WebSocket that sends garbage with 4400 and keeps serving", async () => {
  const socket = new WebSocket(server.wsUrl, "graphql-transport-ws");
  const code = await new Promise<number>((resolve, reject) => {
    socket.once("open", () => socket.send("{not json"));
    socket.once("close", (closeCode) => resolve(closeCode));
    socket.once("error", reject);
  });
  expect(code).toBe(4400);
  const health = await post({ query: "{ health { database } }" });
  expect(health.data).toEqual({ health: { database: true } });
});
