import { createServer } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cutSlowReaders } from "../src/http/slow-readers.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// What one client may cost the server: the page anyone may ask for, and clients that ask and never read.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MILEPOST_ROLE: "api" });
});
afterAll(() => server.stop());

describe("GraphiQL's page", () => {
  it("is sent compressed from one buffer, revalidated by its ETag, and needs no token", async () => {
    const page = await fetch(server.url, { headers: { accept: "text/html", "accept-encoding": "gzip" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-encoding")).toBe("gzip");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    const etag = page.headers.get("etag")!;
    const compressed = Number(page.headers.get("content-length"));
    // fetch unzips: what arrives is the page itself, while the wire carried a fraction of it.
    const html = await page.text();
    expect(html).toContain("<title>Milepost</title>");
    expect(compressed).toBeLessThan(html.length / 3);
    const again = await fetch(server.url, { headers: { accept: "text/html", "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    const plain = await fetch(server.url, { headers: { accept: "text/html", "accept-encoding": "identity" } });
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(Number(plain.headers.get("content-length"))).toBe(Buffer.byteLength(html));
    expect(gunzipSync(Buffer.from(await (await rawGet(server.url)).arrayBuffer())).toString()).toBe(html);
  });
});

/** The page's compressed bytes as sent, not unzipped by fetch. */
async function rawGet(url: string): Promise<Response> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(`GET /graphql HTTP/1.1\r\nHost: ${hostname}\r\nAccept: text/html\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n`));
    const chunks: Buffer[] = [];
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("end", () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf("\r\n\r\n");
      resolve(new Response(all.subarray(split + 4)));
    });
  });
}

describe("a client that asks and never reads", () => {
  it("is cut once its unsent data stops moving, or passes the limit", async () => {
    const big = Buffer.alloc(64 * 1024 * 1024, "x");
    const upstream = createServer((_request, response) => response.end(big));
    // The unsent limit far above the body: only the stall can cut this one.
    const stop = cutSlowReaders(upstream, { stallMs: 1000, maxUnsent: 1024 * 1024 * 1024 });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const port = (upstream.address() as AddressInfo).port;
    // When the server's side of a client that never reads is closed.
    const clients: ReturnType<typeof connect>[] = [];
    const closedAfter = () =>
      new Promise<number>((resolve) => {
        const started = Date.now();
        upstream.once("connection", (socket) => socket.once("close", () => resolve(Date.now() - started)));
        const client = connect(port, "127.0.0.1", () => {
          client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
          client.pause();
        });
        client.on("error", () => undefined);
        clients.push(client);
      });
    const stalled = await closedAfter();
    expect(stalled).toBeGreaterThan(900);
    expect(stalled).toBeLessThan(5000);
    stop();
    // Over the unsent limit, it is cut at the next sweep, stalled or not.
    const stopSmall = cutSlowReaders(upstream, { stallMs: 60_000, maxUnsent: 1024 * 1024 });
    expect(await closedAfter()).toBeLessThan(3000);
    stopSmall();
    for (const client of clients) client.destroy();
    await new Promise<void>((resolve) => {
      upstream.closeAllConnections();
      upstream.close(() => resolve());
    });
  });
});
