import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cloneDatabase } from "./helpers/database.js";
import { spawnService } from "./helpers/process.js";
import { newSecret, postGraphQL } from "./helpers/server.js";
import { subscribe } from "./helpers/subscriptions.js";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { track, release } from "./helpers/resources.js";

let database: Awaited<ReturnType<typeof cloneDatabase>>;
beforeAll(async () => {
  database = await cloneDatabase();
});
afterAll(() => database.drop());

const HEALTH = "{ health { ok database workers version } }";

describe("roles and shutdown", () => {
  it("runs api and worker processes apart on one database; health counts the workers", async () => {
    const token = newSecret();
    const env = { DATABASE_URL: database.url, MILEPOST_ADMIN_TOKEN: token };
    const api = await spawnService({ ...env, MILEPOST_ROLE: "api" });
    const onlyApi = await postGraphQL<{ health: { ok: boolean; database: boolean; workers: number } }>(api.url!, { query: HEALTH }, token);
    expect(onlyApi.data?.health).toMatchObject({ ok: false, database: true, workers: 0 });

    const workers = await Promise.all([spawnService({ ...env, MILEPOST_ROLE: "worker" }), spawnService({ ...env, MILEPOST_ROLE: "worker" })]);
    expect(workers.every((worker) => worker.url === undefined)).toBe(true);
    const withWorkers = await postGraphQL<{ health: { ok: boolean; workers: number; version: string } }>(api.url!, { query: HEALTH }, token);
    expect(withWorkers.data?.health).toMatchObject({ ok: true, workers: 2, version: "0.1.0" });

    // A worker that stops says goodbye: it is no longer counted.
    expect((await workers[0].stop()).code).toBe(0);
    const oneLeft = await postGraphQL<{ health: { workers: number } }>(api.url!, { query: HEALTH }, token);
    expect(oneLeft.data?.health.workers).toBe(1);
    await Promise.all([workers[1].stop(), api.stop()]);
  });

  it("on SIGTERM closes its sockets and exits 0 within 10 s", async () => {
    const token = newSecret();
    const service = await spawnService({ DATABASE_URL: database.url, MILEPOST_ADMIN_TOKEN: token });
    let closeCode: number | undefined;
    const client = track(
      createClient({
        url: service.url!.replace(/^http/, "ws"),
        webSocketImpl: WebSocket,
        connectionParams: { token },
        retryAttempts: 0,
        on: { closed: (event) => (closeCode = (event as { code: number }).code) },
      }),
      "graphql-ws client",
    );
    const live = subscribe(client, `subscription { events { id } }`);
    const pending = live.next(15_000).catch((error: Error) => error);
    // The subscription is open once the server answers a query on the same socket.
    expect(await subscribe(client, "{ health { database } }").next()).toEqual({ health: { database: true } });

    const exit = await service.stop("SIGTERM");
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.afterMs).toBeLessThan(10_000);
    expect(await pending).toBeInstanceOf(Error);
    expect(closeCode).toBe(1001);
    expect(service.output()).toContain('"msg":"milepost stopped"');
    expect(service.output(), "errors logged during shutdown").not.toMatch(/"level":(50|60)/);
    await client.dispose();
    release(client);
  });

  it("logs the client's mistakes (NOT_FOUND, BAD_USER_INPUT, FORBIDDEN, CONFLICT) below error level", async () => {
    const token = newSecret();
    const service = await spawnService({ DATABASE_URL: database.url, MILEPOST_ADMIN_TOKEN: token });
    const call = (query: string, as = token) => postGraphQL<Record<string, { id: string; token: string }>>(service.url!, { query }, as);
    const codes: unknown[] = [];
    codes.push((await call(`mutation { pauseImport(id: "2147483000") { id } }`)).errors?.[0].extensions?.code);
    codes.push((await call(`mutation { pauseImport(id: "0x10") { id } }`)).errors?.[0].extensions?.code);
    const viewer = (await call(`mutation { createApiToken(name: "v", role: VIEWER) { token } }`)).data!.createApiToken.token;
    codes.push((await call(`mutation { pauseImport(id: "1") { id } }`, viewer)).errors?.[0].extensions?.code);
    const started = await call(`mutation { startImport(input: { source: "demo-movies", config: {}, maxPages: 1 }) { id } }`);
    const id = started.data!.startImport.id;
    await expect.poll(async () => (await call(`{ import(id: "${id}") { status } }`)).data?.import, { timeout: 15_000 }).toMatchObject({ status: "COMPLETED" });
    codes.push((await call(`mutation { resumeImport(id: "${id}") { id } }`)).errors?.[0].extensions?.code);
    expect(codes).toEqual(["NOT_FOUND", "BAD_USER_INPUT", "FORBIDDEN", "CONFLICT"]);
    await service.stop();
    expect(service.output()).not.toMatch(/"level":(50|60)/);
  });
});
