import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ConfigError, loadConfig } from "../src/config.js";
import { prisma } from "../src/db/client.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// What a page on another origin can make a browser do: send "simple" requests (forms, text/plain) without asking,
// open WebSockets anywhere, and read answers where CORS allows. The server here has auth off, the worst case.

const DASHBOARD = "https://dash.example";
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MILEPOST_ROLE: "api", MILEPOST_AUTH: "off", MILEPOST_CORS_ORIGINS: DASHBOARD });
});
afterAll(() => server.stop());

const MUTATION = `mutation { createApiToken(name: "stolen", role: ADMIN) { token } }`;

/** A raw request, so Host can be what a rebinding attack makes it. */
function send(options: { method: string; headers: Record<string, string>; body?: string }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ hostname, port, path: "/graphql", method: options.method, headers: options.headers }, (response) => {
      let body = "";
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode!, headers: response.headers, body }));
    });
    request.on("error", reject);
    request.end(options.body);
  });
}
const stolen = () => prisma().apiToken.count({ where: { name: "stolen" } });

describe("a page on another origin", () => {
  it("cannot run a mutation with a form or text/plain POST, which browsers send without a preflight", async () => {
    const host = new URL(server.url).host;
    for (const [type, body] of [
      ["application/x-www-form-urlencoded", `query=${encodeURIComponent(MUTATION)}`],
      ["multipart/form-data; boundary=x", `--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n${MUTATION}\r\n--x--\r\n`],
      ["text/plain", JSON.stringify({ query: MUTATION })],
    ]) {
      const response = await send({ method: "POST", headers: { host, "content-type": type }, body });
      expect([type, response.status]).toEqual([type, 415]);
      expect(JSON.parse(response.body).errors[0].message).toMatch(/must be application\/json/);
    }
    expect(await stolen()).toBe(0);
  });

  it("with auth off, is refused outright, by its Origin or by a Host that is not loopback (DNS rebinding)", async () => {
    const host = new URL(server.url).host;
    const json = { "content-type": "application/json" };
    const foreign = await send({ method: "POST", headers: { ...json, host, origin: "https://evil.example" }, body: JSON.stringify({ query: MUTATION }) });
    expect(foreign.status).toBe(403);
    expect(foreign.headers["access-control-allow-origin"]).toBeUndefined();
    const rebound = await send({ method: "POST", headers: { ...json, host: `evil.example:${new URL(server.url).port}`, origin: `http://evil.example:${new URL(server.url).port}` }, body: JSON.stringify({ query: MUTATION }) });
    expect(rebound.status).toBe(403);
    const sandboxed = await send({ method: "POST", headers: { ...json, host, origin: "null" }, body: JSON.stringify({ query: MUTATION }) });
    expect(sandboxed.status).toBe(403);
    expect(await stolen()).toBe(0);
    // Its own pages, and programs that send no Origin, are served.
    const own = await send({ method: "POST", headers: { ...json, host, origin: `http://${host}` }, body: JSON.stringify({ query: "{ health { ok } }" }) });
    expect(own.status).toBe(200);
  });

  it("gets CORS only for MILEPOST_CORS_ORIGINS", async () => {
    const host = new URL(server.url).host;
    const preflight = (origin: string) => send({ method: "OPTIONS", headers: { host, origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" } });
    expect((await preflight(DASHBOARD)).headers["access-control-allow-origin"]).toBe(DASHBOARD);
    expect((await preflight("https://evil.example")).headers["access-control-allow-origin"]).toBeUndefined();
    const read = await send({ method: "POST", headers: { host, origin: DASHBOARD, "content-type": "application/json" }, body: JSON.stringify({ query: "{ health { ok } }" }) });
    expect(read).toMatchObject({ status: 200, headers: { "access-control-allow-origin": DASHBOARD } });
  });

  it("cannot open a WebSocket, which browsers open to any origin without asking", async () => {
    const opened = (origin: string) =>
      new Promise<string>((resolve) => {
        const socket = new WebSocket(server.wsUrl, "graphql-transport-ws", { origin });
        socket.on("open", () => {
          socket.close();
          resolve("open");
        });
        socket.on("unexpected-response", (_request, response) => resolve(`refused ${response.statusCode}`));
        socket.on("error", () => undefined);
      });
    expect(await opened("https://evil.example")).toMatch(/^refused 40/);
    expect(await opened(new URL(server.url).origin)).toBe("open");
  });
});

it("refuses to start with auth off on an address other than loopback", () => {
  expect(() => loadConfig({ MILEPOST_AUTH: "off", HOST: "0.0.0.0" })).toThrow(ConfigError);
  expect(() => loadConfig({ MILEPOST_AUTH: "off", HOST: "0.0.0.0" })).toThrow(/loopback address only/);
  expect(loadConfig({ MILEPOST_AUTH: "off", HOST: "::1" }).HOST).toBe("::1");
  expect(loadConfig({ HOST: "0.0.0.0" }).HOST).toBe("0.0.0.0");
  expect(() => loadConfig({ MILEPOST_CORS_ORIGINS: "https://dash.example/path" })).toThrow(/not an origin/);
});
