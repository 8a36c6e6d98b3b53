import type { Config } from "./config.js";
import { configureEgress, type EgressPolicy } from "./egress/policy.js";
import { demoStatsCollector } from "./collectors/demo-stats.js";
import { httpJsonCollector } from "./collectors/http-json-collector.js";
import type { Logger } from "./logger.js";
import { httpCheck } from "./processors/http-check.js";
import { imageNormalize } from "./processors/image-normalize.js";
import { clearRegistry, loadCollectors, loadPlugins, registerCollector, registerProcessor, registerSource } from "./registry.js";
import { demoBackupSource } from "./sources/demo-backup.js";
import { demoMoviesSource } from "./sources/demo-movies.js";
import { httpJson } from "./sources/http-json.js";
import { httpTree } from "./sources/http-tree.js";

/** The origin of an api process on HOST and PORT (a worker-only process reaches the demo there). */
export function defaultOrigin(config: Pick<Config, "HOST" | "PORT">): string {
  return `http://${config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST}:${config.PORT}`;
}

/** Where work may reach: MILEPOST_EGRESS's entries, never the database, and the demo under the service's own origin. */
function egressOf(config: Config, databaseUrl: string, origin: () => string): EgressPolicy {
  const database = new URL(databaseUrl);
  return {
    entries: config.MILEPOST_EGRESS,
    forbidden: [{ host: database.hostname || "localhost", port: Number(database.port) || 5432 }],
    demo: () => (config.MILEPOST_DEMO === "on" ? { origin: new URL(origin()).origin, path: "/demo/" } : null),
  };
}

/**
 * Registers what this process knows, anew: the built-in sources,
 * processors and collectors, then MILEPOST_PLUGINS and MILEPOST_COLLECTORS.
 * `ownOrigin` is where the demo is served (asked at each use: the service
 * knows its port only once it listens).
 */
export async function registerDefinitions(config: Config, ownOrigin: () => string, log: Logger): Promise<void> {
  const demo = () => `${ownOrigin()}/demo`;
  clearRegistry();
  registerSource(httpJson);
  registerSource(httpTree);
  registerSource(demoMoviesSource(demo));
  registerSource(demoBackupSource(demo, config.MILEPOST_DATA_DIR));
  registerProcessor(httpCheck);
  registerProcessor(imageNormalize({ timeMs: config.IMAGE_BUDGET_MS, memoryMb: config.IMAGE_MEMORY_MB, allowSvg: config.IMAGE_ALLOW_SVG === "on" }));
  registerCollector(httpJsonCollector);
  registerCollector(demoStatsCollector(demo));
  await loadPlugins(config.MILEPOST_PLUGINS, log);
  if (config.MILEPOST_COLLECTORS) await loadCollectors(config.MILEPOST_COLLECTORS, log);
}

/**
 * What a process needs before it takes work in (the service, the CLI's
 * enqueue): where work may reach, and the definitions it checks work
 * against.
 */
export async function prepareWork(config: Config, databaseUrl: string, ownOrigin: () => string, log: Logger): Promise<void> {
  configureEgress(egressOf(config, databaseUrl, ownOrigin));
  await registerDefinitions(config, ownOrigin, log);
}
