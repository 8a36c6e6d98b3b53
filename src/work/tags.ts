import { z } from "zod";
import { parseInput } from "../engine/errors.js";

/** Tags one item or job may carry, and the JSON size of its metadata: filing, not storage. */
export const MAX_TAGS = 20;
export const MAX_META_BYTES = 8192;

const tag = z
  .string()
  .trim()
  .regex(/^[\p{L}\p{N}][\p{L}\p{N}._:/=+@ -]{0,62}$/u, "a tag is 1 to 63 letters, digits, spaces and . _ : / = + @ -, starting with a letter or digit");

/** Tags as given: each checked, duplicates dropped, in the order given. */
export const tagsInput = z
  .array(tag)
  .max(MAX_TAGS, `at most ${MAX_TAGS} tags`)
  .transform((tags) => [...new Set(tags)]);

/** Tags a list is filtered by: work carrying every one of them. */
export const tagsFilter = z.array(tag).max(MAX_TAGS, `at most ${MAX_TAGS} tags`);

const jsonObject = () => z.record(z.string(), z.unknown(), { error: 'must be a JSON object, e.g. {"team": "web"}' });

/** Metadata: a JSON object of at most MAX_META_BYTES, kept and shown as given. */
export const metaInput = jsonObject()
  .refine((meta) => Buffer.byteLength(JSON.stringify(meta)) <= MAX_META_BYTES, `must be at most ${MAX_META_BYTES} bytes of JSON`);

/** A containment filter on metadata: work whose metadata holds this object. */
export const metaFilter = jsonObject();

/**
 * The `tags` and `meta` filter arguments of a list (queueItems, jobs),
 * checked; null for either when it filters nothing.
 */
export function filingFilter(args: { tags?: string[] | null; meta?: unknown }): { tags: string[] | null; meta: Record<string, unknown> | null } {
  return {
    tags: args.tags?.length ? parseInput(tagsFilter, args.tags, ["tags"]) : null,
    meta: args.meta !== null && args.meta !== undefined ? parseInput(metaFilter, args.meta, ["meta"]) : null,
  };
}
