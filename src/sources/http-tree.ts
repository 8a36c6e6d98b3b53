import { z } from "zod";
import { httpUrl, secretOr } from "../engine/config-schemas.js";
import { getPath, type JsonValue } from "../engine/json.js";
import { httpJson, pagination, queryValue, rateLimitWaitSeconds, type HttpJsonConfig } from "./http-json.js";
import { defineSource, type TreeNode } from "./types.js";

const level = z.object({
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,39}$/, "must be a word (letters, digits, _)"),
  url: httpUrl().describe('May use the keys of the levels above by name, e.g. "https://api.example/org/{org}/space/".'),
  itemsPath: z.string().default("").describe('Dot path of the array in the answer; "" when the answer is the array.'),
  keyPath: z.string().min(1).describe("Dot path of a node's (or, on the last level, a record's) key."),
  labelPath: z.string().optional().describe("Dot path of a node's label, shown in checkpoints and logs."),
  totalPath: z.string().optional().describe("Dot path of how many children the node has in all (saves asking for a page past the end)."),
  pagination: pagination.optional().describe("As http-json's; none: one request per node."),
});

export const httpTreeConfig = z
  .object({
    levels: z.array(level).min(2).max(8).describe("Outermost first; the last level's nodes are the records."),
    query: z.record(z.string(), queryValue).default({}),
    headers: z.record(z.string(), secretOr(z.string())).default({}),
    rateLimitWaitSeconds,
  })
  .superRefine((config, ctx) => {
    config.levels.forEach((entry, index) => {
      const above = new Set(config.levels.slice(0, index).map((outer) => outer.name));
      for (const [, name] of entry.url.matchAll(/\{(\w+)\}/g)) {
        if (!above.has(name)) ctx.addIssue({ code: "custom", path: ["levels", index, "url"], message: `{${name}} names no level above "${entry.name}"` });
      }
    });
  });
export type HttpTreeConfig = z.infer<typeof httpTreeConfig>;

/** The http-json config that lists a node's children: the next level's URL with the keys above it filled in. */
function listing(config: HttpTreeConfig, node: TreeNode): HttpJsonConfig {
  const entry = config.levels[node.level + 1];
  return {
    url: entry.url.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(node.keys[name] ?? "")),
    query: config.query,
    headers: config.headers,
    method: "GET",
    rateLimitWaitSeconds: config.rateLimitWaitSeconds,
    itemsPath: entry.itemsPath,
    idPath: entry.keyPath,
    totalItemsPath: entry.totalPath,
    // Without pagination, one request: a Link pagination that finds no Link header ends after its first page.
    pagination: entry.pagination ?? { type: "link" },
  };
}

/**
 * Any nested JSON API by config alone (a Podio backup: org > workspace >
 * app > item): each level's URL, where its array is, its key and label,
 * and its pagination as http-json's.
 */
export const httpTree = defineSource<HttpTreeConfig, JsonValue>({
  name: "http-tree",
  description: "Any nested JSON API by config alone (e.g. a Podio backup: org > workspace > app > item): each level's URL (using the keys above it), items, key, label and pagination.",
  shape: "TREE",
  levels: [],
  levelsOf: (config) => config.levels.map((entry) => entry.name),
  config: httpTreeConfig,
  start: (config, node) => httpJson.start(listing(config, node)) as JsonValue,
  async children(ctx, node, cursor) {
    const config = listing(ctx.config, node);
    const page = await httpJson.fetchPage({ ...ctx, config }, cursor as never);
    const last = node.level + 1 === ctx.config.levels.length - 1;
    const labelPath = ctx.config.levels[node.level + 1].labelPath;
    const next = page.next as JsonValue | null;
    if (last) return { records: page.records, next, total: page.totalItems ?? null };
    const children = page.records.map((record) => {
      const label = labelPath ? getPath(record.data, labelPath) : undefined;
      return { key: record.externalId, label: label === undefined || label === null ? null : String(label) };
    });
    return { children, next, total: page.totalItems ?? null };
  },
});
