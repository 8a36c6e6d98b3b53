// Entry point: `npm start`. Reads the config, starts the service in its
// role and stops it gracefully on SIGTERM/SIGINT.
import { ConfigError, loadConfig, StartupError } from "./config.js";
import { reportDatabaseError } from "./db/availability.js";
import { logger } from "./logger.js";
import { createService } from "./service.js";

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

/**
 * A promise rejected with nobody to handle it (pg-boss, for one, does not
 * await the call that records a job's end) must not end a service holding
 * other work: each distinct cause is logged once, in full, with a count of
 * repeats a minute later if there are any. A database outage is reported as
 * such, not as a bug.
 */
const unhandled = new Map<string, { count: number; timer?: NodeJS.Timeout }>();
process.on("unhandledRejection", (reason) => {
  const outage = reportDatabaseError(reason, "unhandled rejection");
  const key = reason instanceof Error ? `${reason.name}: ${reason.message.split("\n")[0]}` : String(reason);
  const seen = unhandled.get(key);
  if (seen) {
    seen.count++;
    return;
  }
  const entry: { count: number; timer?: NodeJS.Timeout } = { count: 0 };
  unhandled.set(key, entry);
  if (outage) logger.warn({ reason: key }, "a database call failed during the outage with nobody waiting for it; the work it belonged to is retried");
  else logger.error({ err: reason }, "unhandled promise rejection (a bug: please report it); the service keeps running");
  entry.timer = setTimeout(() => {
    if (entry.count > 0) logger.warn({ reason: key, repeats: entry.count }, "the same unhandled rejection repeated");
    unhandled.delete(key);
  }, 60_000);
  entry.timer.unref();
});

const service = createService(config);
let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping: no new work is taken; running work stops at its next checkpoint");
    service.stop().then(
      () => process.exit(0),
      (error) => {
        logger.error({ err: error }, "stop failed");
        process.exit(1);
      },
    );
  });
}

try {
  await service.start();
} catch (error) {
  if (error instanceof StartupError) process.stderr.write(`milepost could not start: ${error.message}\n`);
  else logger.fatal({ err: error }, `milepost could not start: ${(error as Error).message}`);
  await service.stop();
  process.exit(1);
}
if (service.url) process.stdout.write(`\n  Milepost is running: ${service.url} (GraphiQL in a browser, graphql-ws on the same URL)\n\n`);
