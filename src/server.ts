// Entry point: `npm start`. Reads the config, starts the service in its
// role and stops it gracefully on SIGTERM/SIGINT.
import { ConfigError, loadConfig, StartupError } from "./config.js";
import { logger } from "./logger.js";
import { createService } from "./service.js";
import { createRejectionReporter } from "./unhandled.js";

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

process.on("unhandledRejection", createRejectionReporter(logger));

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
if (service.url) {
  const dashboard = new URL("/", service.url).href;
  process.stdout.write(`\n  Milepost is running. Dashboard: ${dashboard}\n  GraphQL: ${service.url} (GraphiQL in a browser, graphql-ws on the same URL)\n\n`);
}
