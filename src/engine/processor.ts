import type { z } from "zod";
import type { LogLevel } from "./events.js";
import type { HttpClient } from "./http-client.js";
import type { JsonValue } from "./json.js";

/** What a processor's `run` gets from the engine, for one queue item or job step. */
export interface ProcessorContext {
  /** The same HTTP client as imports': timeouts, retries, rate limits shared per upstream, secrets under MILEPOST_SECRETS. */
  http: HttpClient;
  /** Aborted when the item is cancelled, its lease is lost or the worker shuts down: pass it to every request. */
  signal: AbortSignal;
  /** A LOG event on the item. */
  log(level: LogLevel, message: string): Promise<void>;
  /** Reports progress within the item (coalesced PROGRESS events). */
  progress(done: number, total: number | null): void;
  /** 1 on the first try, 2 on the first retry, … */
  attempt: number;
  /** The item's id, e.g. to name what it stores. */
  itemId: number;
  /**
   * Stores a file for this item (named `name` within it: a retry writes the
   * same file), served at the URL returned to holders of a token, and
   * deleted with the item. Throws when FILES_MAX_BYTES would be passed.
   */
  storeFile(name: string, contentType: string, bytes: Buffer): Promise<string>;
}

/**
 * A kind of work on one input: what queue items and job steps run through.
 * `input` is a zod schema (shown to clients as JSON Schema); `accepts` may
 * turn an input away at enqueue with a reason. `run` returns the result
 * (any JSON). Throwing retries the item, up to its max attempts, unless the
 * error is a PermanentError (or an upstream's answer that retrying cannot
 * change, such as a 404).
 */
export interface ProcessorDefinition<Input = unknown, Result extends JsonValue = JsonValue> {
  name: string;
  description: string;
  input: z.ZodType<Input>;
  /** true, or why the input is refused. */
  accepts?(input: Input): true | string;
  run(ctx: ProcessorContext, input: Input): Promise<Result>;
}

/** A processor as the registry holds it. */
export type AnyProcessor = ProcessorDefinition<any, JsonValue>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Typed helper for plugins: `export default defineProcessor({ … })`. */
export function defineProcessor<Input, Result extends JsonValue>(definition: ProcessorDefinition<Input, Result>): ProcessorDefinition<Input, Result> {
  return definition;
}

/** A failure retrying cannot fix (not an image, a malformed input): the item ends FAILED at once. */
export class PermanentError extends Error {
  override name = "PermanentError";
  readonly permanent = true;
}

/** A PermanentError, or any error a plain-JavaScript plugin marked `permanent: true`. */
export function isPermanent(error: unknown): error is Error {
  return error instanceof PermanentError || (error instanceof Error && (error as { permanent?: unknown }).permanent === true);
}
