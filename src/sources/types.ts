import type { z } from "zod";
import type { CheckpointLevel } from "../engine/events.js";
import type { HttpClient } from "../engine/http-client.js";
import type { JsonValue } from "../engine/json.js";
import type { LogLevel } from "../engine/events.js";

/** One record to store under (dataset, externalId): what a source yields, and a collector. */
export interface SourceRecord {
  externalId: string;
  data: JsonValue;
}

export interface SourcePage<Cursor extends JsonValue> {
  records: SourceRecord[];
  /** Where the next page starts; null when this was the last one. */
  next: Cursor | null;
  totalPages?: number | null;
  totalItems?: number | null;
}

/** What a source's functions get from the engine. */
export interface SourceContext<Config> {
  /** The validated config, `{ "$env": NAME }` references still in place (resolve them with resolveSecrets when calling). */
  config: Config;
  /** Applies timeouts, retries with backoff, rate limits and the status-code rules. */
  http: HttpClient;
  /** Aborted on pause, cancel, shutdown or a lost lease: pass it to every request. */
  signal: AbortSignal;
  /** A LOG event on the import. */
  log(level: LogLevel, message: string): Promise<void>;
  /** True for the first page of the import: a 401/403 there ends it at once. */
  firstPage: boolean;
}

/**
 * A kind of import source. `config` is a zod schema (shown to clients as JSON
 * Schema); the engine calls `start` once, then `fetchPage` with each cursor
 * until one returns `next: null`, committing checkpoints as it goes.
 */
export interface SourceDefinition<Config = unknown, Cursor extends JsonValue = JsonValue> {
  name: string;
  description: string;
  shape?: "FLAT" | "TREE";
  /** Level names of a TREE source, outermost first. */
  levels?: string[];
  config: z.ZodType<Config>;
  /** The cursor of the first page. */
  start(config: Config): Cursor;
  fetchPage(ctx: SourceContext<Config>, cursor: Cursor): Promise<SourcePage<Cursor>>;
  /**
   * Where to go on when the page at `cursor` cannot be fetched; null (or
   * no function) when the source cannot continue past it, e.g. cursor
   * pagination, where only the failed page knew the next token.
   */
  skip?(config: Config, cursor: Cursor): Cursor | null;
  /** The checkpoint path of a cursor, outermost first; FLAT sources may leave it to the engine. */
  path?(cursor: Cursor, page: number, totalPages: number | null): CheckpointLevel[];
}

/** A source as the registry holds it. */
export type AnySource = SourceDefinition<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Typed helper for plugins: `export default defineSource({ … })`. */
export function defineSource<Config, Cursor extends JsonValue>(definition: SourceDefinition<Config, Cursor>): SourceDefinition<Config, Cursor> {
  return definition;
}
