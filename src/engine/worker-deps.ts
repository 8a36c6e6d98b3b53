import type { Config } from "../config.js";
import type { HttpClient } from "./http-client.js";
import type { Logger } from "../logger.js";
import type { LeaseKeeper } from "./lease-keeper.js";
import type { AnyProcessor } from "./processor.js";

/** What a worker process gives the workers of every kind. */
export interface WorkerDeps {
  config: Config;
  /** This process's identity in leases (its heartbeat id). */
  owner: string;
  /** Aborted when the process shuts down: running work checkpoints and hands over. */
  shutdown: AbortSignal;
  log: Logger;
  /**
   * One HTTP client for every kind, so the retry, rate-limit and secret rules
   * are the same everywhere (cooldowns are shared through the database).
   */
  http: HttpClient;
  /** The same client for processors, without retries inside an attempt: an item's attempts are its retries. */
  attemptHttp: HttpClient;
  /** The processors this process has (built in and from MILEPOST_PLUGINS): what its runners run. */
  processors: { get(name: string): AnyProcessor | undefined; names(): string[] };
  /** The process's one lease renewal loop, for every kind. */
  leases: LeaseKeeper;
  /** For the connections of its own a worker LISTENs on. */
  databaseUrl: string;
}
