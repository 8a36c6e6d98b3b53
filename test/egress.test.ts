import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startDemoServer } from "../src/demo/upstream.js";
import { EgressRefusedError, egressConnector } from "../src/engine/egress-connector.js";
import { configureEgress, egressPolicy, egressRefusal, parseEgressEntry, urlRefusal, type EgressEntry, type EgressPolicy } from "../src/egress/policy.js";
import { createHttpClient, UpstreamError } from "../src/engine/http-client.js";
import { logger } from "../src/logger.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// Every request these tests make goes to a loopback address. The other classes (private, link-local, unique-local,
// multicast) are judged by the policy function and through a stubbed DNS answer, and never connected to.

const DATABASE = { host: "127.0.0.1", port: 5432 };
function policy(...entries: string[]): EgressPolicy {
  return { entries: entries.map((entry) => parseEgressEntry(entry) as EgressEntry), forbidden: [DATABASE], demo: () => null };
}
const judge = (address: string, port = 80, on = policy(), host = address) => egressRefusal(on, { host, address, port });

describe("the egress policy", () => {
  it("refuses every non-public class, in IPv4, IPv6 and IPv4-in-IPv6 spellings, and lets public addresses through", () => {
    const refused: [string, RegExp][] = [
      ["127.0.0.1", /loopback/],
      ["127.255.0.9", /loopback/],
      ["::1", /loopback/],
      ["::ffff:127.0.0.1", /loopback/],
      ["10.20.30.40", /private/],
      ["172.16.0.1", /private/],
      ["172.31.255.255", /private/],
      ["192.168.1.1", /private/],
      ["100.64.0.1", /carrier-grade/],
      ["169.254.169.254", /link-local/],
      ["::ffff:169.254.169.254", /link-local/],
      ["::ffff:a9fe:a9fe", /link-local/],
      ["64:ff9b::a9fe:a9fe", /link-local/], // NAT64 of the metadata address
      ["2002:a9fe:a9fe::1", /link-local/], // 6to4 of it
      ["fe80::1", /link-local/],
      ["fc00::1", /unique-local/],
      ["fd12:3456::1", /unique-local/],
      ["224.0.0.251", /multicast/],
      ["ff02::1", /multicast/],
      ["0.0.0.0", /unspecified/],
      ["::", /unspecified/],
      ["255.255.255.255", /broadcast/],
    ];
    for (const [address, kind] of refused) expect([address, judge(address)]).toEqual([address, expect.stringMatching(kind)]);
    for (const address of ["93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) expect([address, judge(address)]).toEqual([address, null]);
  });

  it("opens what an entry names, and only that: a host, a host's port, a network", () => {
    expect(judge("10.1.2.3", 8080, policy("10.0.0.0/8"))).toBeNull();
    expect(judge("::ffff:10.1.2.3", 8080, policy("10.0.0.0/8"))).toBeNull();
    expect(judge("10.1.2.3", 8080, policy("10.0.0.0/16"))).toMatch(/private/);
    expect(judge("10.1.2.3", 8080, policy("10.1.2.3:8080"))).toBeNull();
    expect(judge("10.1.2.3", 8081, policy("10.1.2.3:8080"))).toMatch(/add "10\.1\.2\.3:8081" to MILEPOST_EGRESS/);
    expect(judge("10.1.2.3", 443, policy("intranet.example"), "intranet.example")).toBeNull();
    expect(judge("10.1.2.3", 443, policy("intranet.example:8443"), "intranet.example")).toMatch(/intranet\.example resolves to it.*add "intranet\.example:443"/);
    expect(judge("fd00::5", 80, policy("fd00::/8"))).toBeNull();
    expect(judge("fd00::5", 80, policy("[fd00::5]:80"))).toBeNull();
    for (const bad of ["", "a b", "10.0.0.0/33", "host:99999", "http://x/"]) expect([bad, parseEgressEntry(bad)]).toEqual([bad, null]);
  });

  it("never opens the database's own host and port, in any loopback spelling, whatever the entries say", () => {
    for (const address of ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"]) {
      expect([address, judge(address, 5432, policy("127.0.0.0/8", "::1", "127.0.0.1:5432"))]).toEqual([address, expect.stringMatching(/database's own address/)]);
    }
    expect(judge("127.0.0.1", 5433, policy("127.0.0.0/8"))).toBeNull();
  });

  it("judges a URL before any DNS: every spelling of loopback, loopback names, and credentials, whose password never comes back", () => {
    for (const url of ["http://127.0.0.1/", "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/", "http://[::ffff:127.0.0.1]/", "http://[::1]/", "http://localhost/", "http://api.localhost:8080/"]) {
      expect([url, urlRefusal(policy(), new URL(url))]).toEqual([url, expect.stringMatching(/loopback/)]);
    }
    expect(urlRefusal(policy(), new URL("http://169.254.169.254/latest/meta-data/"))).toMatch(/link-local/);
    expect(urlRefusal(policy(), new URL("http://internal.example/"))).toBeNull(); // judged at connect time, on its address
    const withPassword = urlRefusal(policy(), new URL("http://admin:hunter2secret@example.com/"));
    expect(withPassword).toMatch(/user name or password/);
    expect(withPassword).not.toContain("hunter2secret");
  });
});

describe("the connector, on a stubbed DNS answer", () => {
  const connect = (lookup: (name: string) => Promise<{ address: string }[]>, on: EgressPolicy) =>
    new Promise<unknown>((resolve) => {
      const connector = egressConnector({ timeoutMs: 1000, lookup, policy: () => on });
      connector({ hostname: "internal.example", protocol: "http:", port: "80" }, (error, socket) => {
        socket?.destroy();
        resolve(error ?? socket);
      });
    });

  it("refuses a name that resolves to a private, link-local, unique-local or multicast address, without connecting", async () => {
    for (const address of ["10.0.0.5", "169.254.169.254", "fd00::1", "224.0.0.1", "::ffff:192.168.0.1"]) {
      const error = await connect(async () => [{ address }], policy());
      expect([address, error]).toEqual([address, expect.any(EgressRefusedError)]);
      expect((error as Error).message).toContain(`${address} is `);
    }
  });

  it("judges each connect on the address it connects to, so an answer that changes (DNS rebinding) is caught", async () => {
    const loopback = createServer((_request, response) => response.end("ok"));
    await new Promise<void>((resolve) => loopback.listen(0, "127.0.0.1", resolve));
    const port = (loopback.address() as AddressInfo).port;
    const answers = ["127.0.0.1", "169.254.169.254"];
    const lookup = async () => [{ address: answers.shift()! }];
    const allowed = policy(`internal.example:${port}`);
    const first = await new Promise<unknown>((resolve) => egressConnector({ timeoutMs: 1000, lookup, policy: () => allowed })({ hostname: "internal.example", protocol: "http:", port: String(port) }, (error, socket) => {
      socket?.destroy();
      resolve(error ?? "connected");
    }));
    expect(first).toBe("connected");
    const second = await new Promise<unknown>((resolve) => egressConnector({ timeoutMs: 1000, lookup, policy: () => policy() })({ hostname: "internal.example", protocol: "http:", port: String(port) }, (error, socket) => {
      socket?.destroy();
      resolve(error);
    }));
    expect(second).toEqual(expect.any(EgressRefusedError));
    await new Promise<void>((resolve) => loopback.close(() => resolve()));
  });
});

describe("work on a service whose MILEPOST_EGRESS names two upstreams and the database", () => {
  let server: TestServer;
  let demo: Awaited<ReturnType<typeof startDemoServer>>;
  let redirecting: Awaited<ReturnType<typeof startDemoServer>>;
  let toDatabase: Awaited<ReturnType<typeof startDemoServer>>;
  let databasePort: number;
  let internal: Server;
  const ENQUEUE = `mutation($input: EnqueueInput!) { enqueue(input: $input) { added { id } skipped { key reason message } } }`;
  const portOf = (url: string) => new URL(url).port;

  beforeAll(async () => {
    demo = await startDemoServer({ items: 10, pageSize: 10 });
    redirecting = await startDemoServer({ items: 10, pageSize: 10 });
    toDatabase = await startDemoServer({ items: 10, pageSize: 10 });
    internal = createServer((_request, response) => response.end("internal"));
    await new Promise<void>((resolve) => internal.listen(0, "127.0.0.1", resolve));
    // The database's port is named too: it stays refused even then.
    databasePort = Number(new URL(inject("pgServerUrl")).port || 5432);
    server = await startTestServer({ MILEPOST_EGRESS: `127.0.0.1:${portOf(redirecting.url)},127.0.0.1:${portOf(toDatabase.url)},127.0.0.1:${databasePort}`, MAX_RETRIES: "0" });
    // Upstreams the entries allow, that redirect to the service's own port and to the database's.
    redirecting.upstream.options.faults.redirectTo = new URL(server.url).origin;
    toDatabase.upstream.options.faults.redirectTo = `http://127.0.0.1:${databasePort}`;
  });
  afterAll(async () => {
    await server?.stop();
    await Promise.all([demo, redirecting, toDatabase].map((upstream) => upstream?.close()));
    await new Promise<void>((resolve) => internal.close(() => resolve()));
  });

  it("refuses every loopback spelling the entries do not name, and the database's port, when work is started, naming the entry that would allow it", async () => {
    const port = portOf(demo.url);
    const urls = [`http://127.0.0.1:${port}/pages/home`, `http://2130706433:${port}/`, `http://0x7f000001:${port}/`, `http://[::ffff:127.0.0.1]:${port}/`, `http://localhost:${port}/`, `${new URL(server.url).origin}/graphql`];
    const { data } = await server.gql<{ enqueue: { added: unknown[]; skipped: { key: string; reason: string; message: string }[] } }>(ENQUEUE, {
      input: { queue: "http-check", items: urls.map((url, index) => ({ key: `loop-${index}`, payload: { url } })) },
    });
    expect(data!.enqueue.added).toEqual([]);
    expect(data!.enqueue.skipped).toHaveLength(urls.length);
    for (const skipped of data!.enqueue.skipped) expect(skipped).toMatchObject({ reason: "INVALID", message: expect.stringMatching(/loopback address.*add "(127\.0\.0\.1|\[::ffff:7f00:1\]|localhost):\d+" to MILEPOST_EGRESS/) });

    const started = await server.gql(`mutation($input: StartImportInput!) { startImport(input: $input) { id } }`, {
      input: { source: "http-json", config: { url: `http://127.0.0.1:${port}/3/movie/popular`, pagination: { type: "page" }, itemsPath: "results", idPath: "id" } },
    });
    expect(started.errors?.[0]).toMatchObject({ message: expect.stringContaining(`add "127.0.0.1:${port}" to MILEPOST_EGRESS`), extensions: { code: "BAD_USER_INPUT", fields: ["input.config.url"] } });

    const database = await server.gql<{ enqueue: { skipped: { message: string }[] } }>(ENQUEUE, { input: { queue: "http-check", items: [{ key: "db", payload: { url: `http://127.0.0.1:${databasePort}/` } }] } });
    expect(database.data!.enqueue.skipped[0].message).toMatch(/database's own address/);

    const password = await server.gql<{ enqueue: { skipped: { message: string }[] } }>(ENQUEUE, { input: { queue: "http-check", items: [{ key: "pw", payload: { url: "http://user:s3cretpassw0rd@example.com/" } }] } });
    expect(password.data!.enqueue.skipped[0].message).toMatch(/user name or password/);
    expect(JSON.stringify(password)).not.toContain("s3cretpassw0rd");
  });

  it("fails an item at once, naming the entry, when an allowed upstream redirects to the service itself or to the database", async () => {
    const { data } = await server.gql<{ enqueue: { added: { id: string }[] } }>(ENQUEUE, {
      input: { queue: "http-check", maxAttempts: 3, items: [{ key: "to-self", payload: { url: `${redirecting.url}/pages/home` } }, { key: "to-db", payload: { url: `${toDatabase.url}/pages/home` } }] },
    });
    const ids = data!.enqueue.added.map((item) => item.id);
    expect(ids).toHaveLength(2);
    let items: { status: string; attempts: number; error: string | null }[] = [];
    await expect
      .poll(async () => {
        items = await Promise.all(ids.map(async (id) => (await server.gql<{ queueItem: (typeof items)[number] }>(`query($id: ID!) { queueItem(id: $id) { status attempts error } }`, { id })).data!.queueItem));
        return items.every((item) => item.status === "FAILED");
      }, { timeout: 15_000 })
      .toBe(true);
    expect(items[0]).toMatchObject({ attempts: 1, error: expect.stringMatching(new RegExp(`was not requested: 127\\.0\\.0\\.1 is a loopback address.*add "127\\.0\\.0\\.1:${portOf(server.url)}"`)) });
    expect(items[1]).toMatchObject({ attempts: 1, error: expect.stringMatching(/was not requested: .*database's own address/) });
  });

  it("refuses every loopback spelling at request time too, for a client that skips the start-time check", async () => {
    const port = portOf(demo.url);
    const client = createHttpClient({ maxRetries: 2, retryDelayMs: 10, backoffFactor: 1, timeoutMs: 2000 }, logger);
    const before = demo.upstream.requests;
    for (const url of [`http://127.0.0.1:${port}/pages/home`, `http://2130706433:${port}/`, `http://0x7f000001:${port}/`, `http://[::ffff:127.0.0.1]:${port}/`, `http://localhost:${port}/`, `http://[::1]:${port}/`]) {
      const refused = await client.request(url, { signal: new AbortController().signal }).catch((error: unknown) => error);
      expect([url, refused]).toMatchObject([url, { action: "fail", attempts: 1, message: expect.stringMatching(/was not requested: .*loopback address/) }]);
    }
    expect(demo.upstream.requests).toBe(before); // nothing reached it
  });

  it("refuses a name that resolves to loopback as a permanent failure at request time, and reaches it once an entry names it", async () => {
    const port = (internal.address() as AddressInfo).port;
    const configured = egressPolicy();
    const client = createHttpClient({ maxRetries: 2, retryDelayMs: 10, backoffFactor: 1, timeoutMs: 2000 }, logger, { lookup: async () => [{ address: "127.0.0.1" }] });
    const signal = new AbortController().signal;
    try {
      configureEgress(policy());
      const refused = await client.request(`http://internal.example:${port}/`, { signal }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(UpstreamError);
      expect(refused).toMatchObject({ action: "fail", attempts: 1, message: expect.stringMatching(new RegExp(`127\\.0\\.0\\.1 is a loopback address \\(internal\\.example resolves to it\\).*add "internal\\.example:${port}"`)) });
      configureEgress(policy(`internal.example:${port}`));
      const reached = await client.request(`http://internal.example:${port}/`, { signal });
      expect(reached.body.toString()).toBe("internal");
    } finally {
      configureEgress(configured);
    }
  });
});
