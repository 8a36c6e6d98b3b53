import { setMaxListeners } from "node:events";
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type PgBoss from "pg-boss";
import { ensureAdminToken, forgetToken, revokedAmong } from "./auth/tokens.js";
import type { Config } from "./config.js";
import { startEventBridge } from "./engine/event-bridge.js";
import { createEventHub } from "./engine/event-hub.js";
import { configureSecrets } from "./secrets.js";
import { connectPrisma, disconnectPrisma } from "./db/client.js";
import { openDatabase, type Database } from "./db/database.js";
import { readCappedBody, refuseTooLarge } from "./http/body.js";
import { answerProbe } from "./http/probes.js";
import { serveFile } from "./http/files.js";
import { serveGraphiQL, wantsGraphiQL } from "./http/graphiql.js";
import { serveDashboard } from "./http/dashboard.js";
import { cutSlowReaders } from "./http/slow-readers.js";
import { originRefusal, refuse } from "./http/origins.js";
import { assertPortFree } from "./http/port.js";
import { stopWatchingDatabase, watchDatabase } from "./db/availability.js";
import { attachWebSockets } from "./http/websocket.js";
import { createGraphQLServer } from "./http/yoga.js";
import { startBoss } from "./jobs/boss.js";
import { startHeartbeat } from "./jobs/heartbeat.js";
import { startWorkerRole } from "./jobs/workers.js";
import { createQueues, forgetBoss } from "./engine/queues.js";
import { createDemoUpstream } from "./demo/upstream.js";
import { defaultOrigin, prepareWork } from "./setup.js";
import { declareCollectorQueues, syncCollectors } from "./work/collectors/commands.js";
import { configureLogFormat, logger } from "./logger.js";

export interface Service {
  /** Opens the database, starts pg-boss and, for the api role, listens. */
  start(): Promise<void>;
  /**
   * Stops taking requests and work, lets running work reach a checkpoint
   * (up to SHUTDOWN_TIMEOUT_MS), then closes sockets, HTTP, pg-boss, the
   * LISTEN connection, Prisma and the embedded database, in that order.
   */
  stop(): Promise<void>;
  /** The GraphQL endpoint, once started (api role). */
  readonly url: string | undefined;
  readonly databaseUrl: string | undefined;
}

interface Api {
  url: string;
  /** `http://host:port`, with the port actually bound. */
  origin: string;
  closeSockets(): Promise<void>;
  closeHttp(): Promise<void>;
  closeBridge(): Promise<void>;
}

/** The demo's rate limit lasts longer than the HTTP client waits in line (5 s): the import shows WAITING. */
const DEMO_RETRY_AFTER_SECONDS = 8;

async function startApi(config: Config, databaseUrl: string): Promise<Api> {
  const authOff = config.MILEPOST_AUTH === "off";
  if (authOff) {
    logger.warn("MILEPOST_AUTH=off: every request is let in as ADMIN. Do not expose this server.");
  } else {
    await ensureAdminToken({ adminToken: config.MILEPOST_ADMIN_TOKEN, dataDir: config.MILEPOST_DATA_DIR }, logger);
  }
  const events = createEventHub();
  events.onRevoked(forgetToken);
  // A revocation sent while the listener was reconnecting is not replayed: look the open tokens up instead.
  const recheckTokens = async () => {
    for (const tokenId of await revokedAmong(events.openTokens())) events.revoke(tokenId);
  };
  const bridge = await startEventBridge(databaseUrl, events, logger, recheckTokens);
  const origins = { authOff, corsOrigins: config.MILEPOST_CORS_ORIGINS };
  const yoga = createGraphQLServer({ authOff, events, corsOrigins: config.MILEPOST_CORS_ORIGINS, defaults: { checkpointEvery: config.CHECKPOINT_EVERY } });
  const demo =
    config.MILEPOST_DEMO === "on"
      ? createDemoUpstream({ faults: { latencyMs: config.DEMO_LATENCY_MS, rateLimitEvery: config.DEMO_RATE_LIMIT_EVERY, retryAfterSeconds: DEMO_RETRY_AFTER_SECONDS } })
      : undefined;
  const server: Server = createHttpServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    const refusal = originRefusal(request, origins);
    if (refusal) return refuse(response, refusal);
    if (demo && path.startsWith("/demo/") && demo.handle(request, response, path.slice("/demo".length))) return;
    if (answerProbe(path, request.method, response)) return;
    if (serveFile(request, response, path, authOff)) return;
    if (wantsGraphiQL(request, path)) return serveGraphiQL(request, response);
    if (serveDashboard(request, response, path)) return;
    if (request.method === "GET" || request.method === "HEAD" || request.method === "OPTIONS") return void yoga(request, response);
    // The body is read here, capped, so a chunked upload cannot make Yoga buffer more than the limit.
    readCappedBody(request).then(
      (body) => {
        if (body === null) return refuseTooLarge(response);
        void yoga(Object.assign(request, { body }), response);
      },
      () => response.destroy(),
    );
  });
  const sockets = attachWebSockets(server, yoga, origins, events);
  const stopCutting = cutSlowReaders(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.PORT, config.HOST, () => resolve());
  });
  const origin = defaultOrigin({ ...config, PORT: (server.address() as AddressInfo).port });
  return {
    url: `${origin}${yoga.graphqlEndpoint}`,
    origin,
    closeSockets: () => sockets.close(),
    closeHttp: () =>
      new Promise<void>((resolve) => {
        stopCutting();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
    closeBridge: () => bridge.stop(),
  };
}

/** A host as it stands in a URL (IPv6 in brackets). */
/** The whole service: one process in the role its config gives. */
export function createService(config: Config): Service {
  let database: Database | undefined;
  let prismaOpen = false;
  let boss: PgBoss | undefined;
  let heartbeat: Awaited<ReturnType<typeof startHeartbeat>> | undefined;
  let api: Api | undefined;
  let workers: { stop(): Promise<void> } | undefined;
  const shutdown = new AbortController();
  // Every running import and queue item listens for the shutdown: as many listeners as work running, not a leak.
  setMaxListeners(0, shutdown.signal);
  // A worker-only process reaches the demo of an api process on the same PORT.
  const ownOrigin = () => api?.origin ?? defaultOrigin(config);

  return {
    get url() {
      return api?.url;
    },
    get databaseUrl() {
      return database?.url;
    },
    async start() {
      logger.level = config.LOG_LEVEL;
      configureLogFormat(config.LOG_FORMAT);
      configureSecrets(config.MILEPOST_SECRETS);
      if (config.MILEPOST_ROLE !== "worker") await assertPortFree(config.HOST, config.PORT);
      database = await openDatabase(config, logger);
      watchDatabase(database.url, logger);
      connectPrisma(database.url, config.PREPARED_STATEMENTS);
      prismaOpen = true;
      await prepareWork(config, database.url, ownOrigin, logger);
      declareCollectorQueues();
      boss = await startBoss(database.url, { runsWork: config.MILEPOST_ROLE !== "api", scheduleCheckSeconds: config.SCHEDULE_CHECK_SECONDS }, logger);
      await createQueues(boss);
      await syncCollectors();
      heartbeat = await startHeartbeat(config.MILEPOST_ROLE, logger);
      if (config.MILEPOST_ROLE !== "api") {
        workers = await startWorkerRole({ config, owner: heartbeat.id, shutdown: shutdown.signal, log: logger, databaseUrl: database.url });
      }
      if (config.MILEPOST_ROLE !== "worker") api = await startApi(config, database.url);
      logger.info({ role: config.MILEPOST_ROLE, url: api?.url }, "milepost started");
    },
    async stop() {
      const startedBoss = boss;
      // Running work commits a checkpoint (imports) or is handed back (queue items) before pg-boss waits for its handlers.
      shutdown.abort();
      const steps: [string, (() => Promise<void>) | undefined][] = [
        ["workers", workers?.stop],
        ["websockets", api?.closeSockets],
        ["http", api?.closeHttp],
        ["pg-boss", startedBoss && (() => startedBoss.stop({ graceful: true, timeout: config.SHUTDOWN_TIMEOUT_MS, wait: true }))],
        ["heartbeat", heartbeat?.stop],
        ["event bridge", api?.closeBridge],
        ["prisma", prismaOpen ? disconnectPrisma : undefined],
        ["database", database?.close],
      ];
      api = boss = heartbeat = database = workers = undefined;
      prismaOpen = false;
      for (const [part, close] of steps) {
        if (!close) continue;
        try {
          await close();
        } catch (error) {
          logger.error({ err: error, part }, "could not close cleanly");
        }
        // Handlers still running during pg-boss's graceful stop send their hand-over jobs; forget it only after.
        if (part === "pg-boss") forgetBoss();
      }
      stopWatchingDatabase();
      logger.info("milepost stopped");
    },
  };
}
