// The operators' CLI: `npx milepost <command>` (bin/milepost.mjs), straight against the database that
// DATABASE_URL names, or the embedded one under MILEPOST_DATA_DIR (started for the command if it is not running).
import { ConfigError, loadConfig, StartupError, type Config } from "../config.js";
import { connectPrisma, disconnectPrisma } from "../db/client.js";
import { openDatabase, type Database } from "../db/database.js";
import { logger } from "../logger.js";
import { configureSecrets } from "../secrets.js";
import { defaultOrigin, prepareWork } from "../setup.js";
import { ENQUEUE_USAGE, enqueueCommand } from "./enqueue.js";
import { STATUS_USAGE, statusCommand } from "./status.js";
import { TOKEN_USAGE, tokenCommand } from "./tokens.js";
import { CommandError, parseArgs, UsageError } from "./usage.js";

const USAGE = `Usage:
${TOKEN_USAGE}
${STATUS_USAGE}
${ENQUEUE_USAGE}

The database: DATABASE_URL, or the embedded PostgreSQL under MILEPOST_DATA_DIR (.data).
Exit codes: 0 done, 1 the command failed, 2 a usage or configuration mistake.`;

const COMMANDS: Record<string, { usage: string; options: readonly string[] }> = {
  token: { usage: TOKEN_USAGE, options: ["name", "role"] },
  status: { usage: STATUS_USAGE, options: [] },
  enqueue: { usage: ENQUEUE_USAGE, options: ["priority", "max-attempts"] },
};

const out = (line: string) => process.stdout.write(`${line}\n`);
// Piped into `head`, the reader may leave early: that is not a failure of the command.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    out(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}"`);
  const parsed = parseArgs(rest, command.options);
  if (parsed.help) {
    out(command.usage);
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
  logger.level = "error"; // the command's own lines are its output
  let database: Database | undefined;
  try {
    database = await openDatabase(config, logger);
    connectPrisma(database.url);
    if (name === "token") await tokenCommand(parsed, out);
    else if (name === "status") await statusCommand(out);
    else {
      // Payloads are checked as the API checks them: the same processors, secrets and egress rules.
      configureSecrets(config.MILEPOST_SECRETS);
      await prepareWork(config, database.url, () => defaultOrigin(config), logger);
      await enqueueCommand(parsed, out);
    }
    return 0;
  } finally {
    await disconnectPrisma().catch(() => undefined);
    await database?.close();
  }
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`milepost: ${error.message}\n\n${USAGE}\n`);
    process.exitCode = 2;
  } else if (error instanceof CommandError || error instanceof StartupError) {
    process.stderr.write(`milepost: ${error.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`milepost: ${(error as Error).message ?? String(error)}\n`);
    process.exitCode = 1;
  }
}
