import { afterAll, beforeAll, expect } from "vitest";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { loadConfig } from "../../src/config.js";
import { createService, type Service } from "../../src/service.js";
import { cloneDatabase } from "./database.js";
import { release, track } from "./resources.js";

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: { code?: string; [key: string]: unknown }; path?: string[] }[];
}

export interface TestServer {
  url: string;
  wsUrl: string;
  databaseUrl: string;
  dataDir: string;
  adminToken: string;
  service: Service;
  /** A GraphQL request over HTTP; the admin token unless `token` is given (null: none). */
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<GraphQLResponse<T>>;
  /** A graphql-ws client; closed by stop() if the test did not. */
  ws(connectionParams?: Record<string, unknown>): Client;
  stop(): Promise<void>;
}

export function newSecret(): string {
  return `mp_test_${randomBytes(24).toString("hex")}`;
}

export async function postGraphQL<T>(url: string, body: unknown, token: string | null, headers: Record<string, string> = {}): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, ...(text ? JSON.parse(text) : {}) };
}

/**
 * Starts the real service (all roles unless `env` says otherwise) on an
 * ephemeral port and a fresh clone of the template database, dropped at
 * stop; a `databaseUrl` given instead is left to its owner.
 */
export async function startTestServer(env: Record<string, string> = {}, databaseUrl?: string): Promise<TestServer> {
  const db = databaseUrl ? { url: databaseUrl, drop: async () => undefined } : await cloneDatabase();
  const dataDir = env.MILEPOST_DATA_DIR ?? (await mkdtemp(join(tmpdir(), "milepost-test-")));
  const adminToken = newSecret();
  const service = createService(
    loadConfig({
      DATABASE_URL: db.url,
      PORT: "0",
      HOST: "127.0.0.1",
      MILEPOST_ADMIN_TOKEN: adminToken,
      MILEPOST_DATA_DIR: dataDir,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
      // Tests' upstreams listen on loopback, which work may reach only when allowed.
      MILEPOST_EGRESS: "127.0.0.1",
      DEMO_LATENCY_MS: "0",
      DEMO_RATE_LIMIT_EVERY: "0",
      ...env,
    }),
  );
  track(service, "test server");
  await service.start();
  const url = service.url!;
  const clients = new Set<Client>();
  return {
    url,
    wsUrl: url.replace(/^http/, "ws"),
    databaseUrl: db.url,
    dataDir,
    adminToken,
    service,
    gql: (query, variables, token) => postGraphQL(url, { query, variables }, token === undefined ? adminToken : token),
    ws(connectionParams = { authorization: `Bearer ${adminToken}` }) {
      const client = createClient({ url: url.replace(/^http/, "ws"), webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: false, onNonLazyError: () => undefined });
      clients.add(track(client, "graphql-ws client"));
      return client;
    },
    async stop() {
      for (const client of clients) {
        await client.dispose();
        release(client);
      }
      await service.stop();
      release(service);
      await db.drop();
      if (!env.MILEPOST_DATA_DIR) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * For a test file whose work runs in worker processes it starts, stops and
 * kills: an api-only server in this process (started before the file's
 * tests, stopped after them), and the environment of such a worker.
 */
export function apiForWorkerProcesses(plugins: string): { api(): TestServer; workerEnv(): Record<string, string> } {
  let api: TestServer | undefined;
  beforeAll(async () => {
    api = await startTestServer({ MILEPOST_ROLE: "api", MILEPOST_PLUGINS: plugins });
  });
  afterAll(() => api?.stop());
  const started = () => api ?? expect.fail("the api server has not started");
  return {
    api: started,
    workerEnv: () => ({ DATABASE_URL: started().databaseUrl, MILEPOST_ROLE: "worker", MILEPOST_PLUGINS: plugins, WORKER_CONCURRENCY: "2", RETRY_DELAY_MS: "50" }),
  };
}
