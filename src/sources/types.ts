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
  shape?: "FLAT";
  levels?: undefined;
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

/** A node of a TREE source's tree, as the engine hands it to the source. */
export interface TreeNode {
  /** -1 for the root (its children are the first level's nodes), then 0, 1, … into `levels`. */
  level: number;
  key: string;
  label: string | null;
  /** The keys of this node and its ancestors by level name, e.g. { org: "1", workspace: "25" }. */
  keys: Record<string, string>;
  /** What entering it made, as recorded on its row (null before `enter` ran). */
  effects: JsonValue | null;
}

/** One page of a node's children: nodes of the next level, or, under the last level but one, the records. */
export interface TreePage<Cursor extends JsonValue> {
  children?: { key: string; label: string | null }[];
  records?: SourceRecord[];
  /** Where the next page of this node's children starts; null when this was the last. */
  next: Cursor | null;
  /** How many children the node has, when the upstream says. */
  total?: number | null;
}

/** What a TREE source's functions get: a FLAT source's context, and which import it works for. */
export interface TreeContext<Config> extends SourceContext<Config> {
  importId: number;
}

/**
 * A source of nested levels (organisation > workspace > app > item). The
 * engine walks the tree depth first from a root, asking `children` for each
 * node's children a page at a time (the last level's are the records), and
 * keeps one row per node, so a resumed import goes on at the node and page
 * where it stopped. `enter`, when given, makes what a node needs before its
 * children are listed (a folder): its answer is recorded on the node's row
 * and given back to later runs instead of calling it again.
 */
export interface TreeSourceDefinition<Config = unknown, Cursor extends JsonValue = JsonValue> {
  name: string;
  description: string;
  shape: "TREE";
  /** Level names, outermost first; the last level's nodes are the records. */
  levels: string[];
  /** The level names of one import, for a source whose config names them (`levels` is then []). */
  levelsOf?(config: Config): string[];
  config: z.ZodType<Config>;
  /** The cursor of a node's first page of children. */
  start(config: Config, node: TreeNode): Cursor;
  children(ctx: TreeContext<Config>, node: TreeNode, cursor: Cursor): Promise<TreePage<Cursor>>;
  enter?(ctx: TreeContext<Config>, node: TreeNode): Promise<JsonValue>;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
/** A FLAT source, and a TREE source, as the registry holds them. */
export type FlatSource = SourceDefinition<any, any>;
export type TreeSource = TreeSourceDefinition<any, any>;
/* eslint-enable @typescript-eslint/no-explicit-any */
export type AnySource = FlatSource | TreeSource;

/** Typed helper for plugins: `export default defineSource({ … })`. */
export function defineSource<Config, Cursor extends JsonValue>(definition: SourceDefinition<Config, Cursor>): SourceDefinition<Config, Cursor>;
export function defineSource<Config, Cursor extends JsonValue>(definition: TreeSourceDefinition<Config, Cursor>): TreeSourceDefinition<Config, Cursor>;
export function defineSource(definition: AnySource): AnySource {
  return definition;
}

/** The level names of an import of a TREE source. */
export function treeLevels(source: TreeSource, config: unknown): string[] {
  return source.levelsOf?.(config) ?? source.levels;
}
