import { z } from "zod";
import { parseEgressEntry, type EgressEntry } from "./egress/policy.js";
import { isLoopbackHost } from "./egress/addresses.js";
import { parseGrant, type SecretGrant } from "./secrets.js";

const int = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);
const onOff = (fallback: "on" | "off") => z.enum(["on", "off"]).default(fallback);

/** Why one entry of a comma-separated list is refused. */
class Refused {
  constructor(readonly message: string) {}
}

/** A comma-separated list (empty entries ignored), each entry parsed or Refused with a message. */
const commaList = <T>(parse: (entry: string) => T | Refused) =>
  z
    .string()
    .default("")
    .transform((value, ctx): T[] => {
      const entries: T[] = [];
      for (const text of value.split(",").map((part) => part.trim()).filter(Boolean)) {
        const entry = parse(text);
        if (entry instanceof Refused) ctx.addIssue({ code: "custom", message: entry.message });
        else entries.push(entry);
      }
      return entries;
    });

/** Milepost's own variables: no config may send them anywhere, whatever MILEPOST_SECRETS says. */
const OWN_VARIABLES = new Set(["DATABASE_URL", "MILEPOST_ADMIN_TOKEN", "MILEPOST_SECRETS", "MILEPOST_PLUGINS", "MILEPOST_COLLECTORS", "MILEPOST_DATA_DIR"]);

/**
 * Every environment variable Milepost reads, in one place. The README's
 * configuration table is printed from these descriptions
 * (`npm run config:table`), so they are written for users.
 */
export const configSchema = z.object({
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/ })
    .optional()
    .describe("PostgreSQL connection string. Unset: an embedded PostgreSQL is started with its data under `.data/pg`."),
  PORT: int(4000, 0, 65535).describe("HTTP and WebSocket port of the api role (0 picks a free one)."),
  HOST: z.string().min(1).default("127.0.0.1").describe("Interface the api role listens on."),
  MILEPOST_ROLE: z
    .enum(["all", "api", "worker"])
    .default("all")
    .describe("`api` serves GraphQL over HTTP and WebSockets, `worker` runs work, `all` both. Any number of each may share one database."),
  MILEPOST_PLUGINS: z
    .string()
    .default("")
    .transform((value) => value.split(",").map((entry) => entry.trim()).filter(Boolean))
    .describe("Comma-separated module paths of user sources, processors and collectors, loaded at start."),
  MILEPOST_COLLECTORS: z
    .string()
    .optional()
    .describe("Path of a JSON file of collectors to run, each a registered definition with its config: `[{ \"name\", \"use\": \"http-json-collector\", \"config\": {…}, \"schedule\"? }]`."),
  MILEPOST_AUTH: onOff("on").describe("`off` lets every request in as ADMIN (a warning is logged at every start)."),
  MILEPOST_ADMIN_TOKEN: z
    .string()
    .min(24, "must be at least 24 characters")
    .optional()
    .describe("Seeds an ADMIN token with this secret. Unset and no token exists: one is generated and saved to `.data/admin-token`."),
  MILEPOST_CORS_ORIGINS: commaList((origin): string | Refused => (URL.canParse(origin) && new URL(origin).origin === origin ? origin : new Refused(`"${origin}" is not an origin (scheme://host[:port], no path), e.g. https://dashboard.example`))).describe("Comma-separated origins (e.g. `https://dashboard.example`) whose pages may call the API from a browser (CORS). None by default: only pages the service serves itself."),
  MILEPOST_DEMO: onOff("on").describe("`on` serves the demo upstream API under `/demo/` (the `demo-movies` source reads it)."),
  DEMO_LATENCY_MS: int(100, 0, 10_000).describe("How long the demo upstream takes to answer, as a remote API would: the demo import (500 pages) takes about a minute to watch. 0 answers at once."),
  DEMO_RATE_LIMIT_EVERY: int(300, 0, 1_000_000).describe("Every this many requests the demo upstream answers 429 with `Retry-After: 8`, so the demo shows a rate-limit wait (WAITING, then resumed by itself); 0 never."),
  MILEPOST_DATA_DIR: z.string().min(1).default(".data").describe("Where the embedded PostgreSQL and the generated admin token are kept."),
  EMBEDDED_PG_PORT: int(54329, 1, 65535).describe("Port of the embedded PostgreSQL (used only without DATABASE_URL)."),
  PREPARED_STATEMENTS: int(100, 0, 10_000).describe(
    "Statements a process runs over and over (claims, ends, lease renewals) that it prepares once per database connection instead of parsing and planning at every call; 0 turns this off (e.g. behind a pooler in transaction mode that does not keep prepared statements).",
  ),
  CHECKPOINT_EVERY: int(5, 1, 1000).describe("Pages committed per checkpoint transaction."),
  MAX_RETRIES: int(3, 0, 100).describe("Retries of a network error, timeout or 5xx before the page counts as failed."),
  RETRY_DELAY_MS: int(1000, 0, 3_600_000).describe("First retry delay; each further one is multiplied by BACKOFF_FACTOR."),
  BACKOFF_FACTOR: z.coerce.number().min(1).max(10).default(2).describe("Exponential backoff factor between retries."),
  API_TIMEOUT_MS: int(30_000, 100, 3_600_000).describe("Timeout of one upstream HTTP request."),
  ATTEMPT_TIMEOUT_MS: int(60_000, 100, 86_400_000).describe(
    "Time one attempt of a queue item or job step may take, its requests and its processing together; past it the attempt is stopped and counts as failed (retried up to its maxAttempts). A processor's requests are not retried within an attempt: maxAttempts bounds the total.",
  ),
  FILES_MAX_BYTES: int(1024 * 1024 * 1024, 0, Number.MAX_SAFE_INTEGER).describe(
    "Bytes the files processors store (image-normalize's WebP) may take together; an attempt that would pass it fails, saying so, and is retried. Files are deleted with the queue item or job step that made them.",
  ),
  IMAGE_BUDGET_MS: int(20_000, 100, 3_600_000).describe("Wall time image-normalize's child process may take on one image; past it the child is killed and the attempt fails."),
  IMAGE_MEMORY_MB: int(2048, 512, 65_536).describe("Memory image-normalize's child process may allocate (ulimit -d), in MB; an image that needs more fails its attempt."),
  IMAGE_ALLOW_SVG: onOff("off").describe("`on` lets image-normalize take SVG input. Off by default: a few hundred bytes of SVG filters can take minutes of CPU and gigabytes of memory."),
  WORKER_CONCURRENCY: int(4, 1, 256).describe("Imports one worker process runs at once; and as many queue items, and as many job steps."),
  SCHEDULE_CHECK_SECONDS: int(10, 1, 45).describe("How often cron schedules (collectors, event retention) are checked, and how often a collector's queue is polled for its ticks: a tick starts its run within about three times this."),
  SHUTDOWN_TIMEOUT_MS: int(8000, 0, 600_000).describe("On SIGTERM/SIGINT, how long running work may take to reach a checkpoint before the process exits."),
  COLLECTOR_RUNS_KEPT: int(1000, 10, 1_000_000).describe("Finished runs kept per collector (hourly, the older ones are deleted with their events); a collector's stats are over these."),
  EVENT_RETENTION_DAYS: int(14, 1, 36500).describe("LOG and STATUS events of finished work older than this are deleted (hourly); a subject's last CHECKPOINT is kept."),
  MAX_CONSECUTIVE_PAGE_FAILURES: int(5, 1, 10_000).describe("Pages failing in a row (after their retries) that end an import as FAILED."),
  MILEPOST_SECRETS: commaList((entry): SecretGrant | Refused => {
    const grant = parseGrant(entry);
    if (!grant) return new Refused(`"${entry}" is not NAME@host[:port]`);
    if (OWN_VARIABLES.has(grant.name)) return new Refused(`${grant.name} is Milepost's own setting and cannot be granted to an upstream`);
    return grant;
  }).describe(
      "Comma-separated `NAME@host[:port]` grants: a config may reference `{ \"$env\": \"NAME\" }` only when NAME is listed, and its value is sent only to that host (and port). Without a grant a reference is refused when work starts.",
    ),
  MILEPOST_EGRESS: commaList(
    (text): EgressEntry | Refused => parseEgressEntry(text) ?? new Refused(`"${text}" is not a host, host:port or CIDR network (e.g. intranet.example, 10.1.2.3:8080, 10.0.0.0/8)`),
  ).describe(
      "Comma-separated `host`, `host:port` or CIDR entries that work (sources, processors, collectors) may reach besides public addresses. Loopback, private, link-local, unique-local, multicast and unspecified addresses are refused unless an entry allows them, judged on the address connected to, at every redirect; the database's own host and port never. The demo under `/demo/` needs no entry.",
    ),
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .default("info")
    .describe("pino log level."),
  LOG_FORMAT: z
    .enum(["auto", "json", "pretty"])
    .default("auto")
    .describe("`auto`: one readable line per event when stdout is a terminal (a start, a wait, an end of every import, job and collector run), JSON lines otherwise; `json` or `pretty` always."),
});

export type Config = z.infer<typeof configSchema>;

/** A start that cannot go on for a reason the user can fix: said in one line, without a stack. */
export class StartupError extends Error {
  override name = "StartupError";
}

/** Thrown for a bad environment; its message has one line per bad variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses the environment once; empty strings count as unset. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.keys(configSchema.shape)
      .filter((key) => env[key] !== undefined && env[key] !== "")
      .map((key) => [key, env[key]]),
  );
  const parsed = configSchema.safeParse(present);
  if (parsed.success && parsed.data.MILEPOST_AUTH === "off" && !isLoopbackHost(parsed.data.HOST)) {
    throw new ConfigError(`Invalid configuration:\nHOST=${JSON.stringify(parsed.data.HOST)}: MILEPOST_AUTH=off lets every request in as ADMIN, so the server listens on a loopback address only: set HOST=127.0.0.1, or turn auth on`);
  }
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const variable = String(issue.path[0]);
    return `${variable}=${JSON.stringify(env[variable])}: ${issue.message}`;
  });
  throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
}
