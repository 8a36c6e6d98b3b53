import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { cronRefusal } from "./collectors/cron.js";
import { pathToFileURL } from "node:url";
import type { Logger } from "./logger.js";
import type { AnyProcessor } from "./engine/processor.js";
import type { AnySource } from "./sources/types.js";
import type { AnyCollector } from "./collectors/types.js";

/**
 * The definitions this process knows: built-in and plugin sources (for
 * imports), processors (for queue items and job steps) and collectors, by
 * name; and the collectors that run, each a definition with its config.
 */
const sources = new Map<string, AnySource>();
const processors = new Map<string, AnyProcessor>();
const collectorKinds = new Map<string, AnyCollector>();
const collectors = new Map<string, RunnableCollector>();

/** A collector that runs: a definition (`kind`) with its validated config, under a name of its own. */
export interface RunnableCollector {
  name: string;
  description: string;
  schedule: string | null;
  dataset: string;
  kind: AnyCollector;
  config: unknown;
}

const hasSchema = (value: unknown) => typeof (value as { safeParse?: unknown } | undefined)?.safeParse === "function";

function isSource(value: unknown): value is AnySource {
  const candidate = value as AnySource | null;
  if (typeof candidate !== "object" || candidate === null || typeof candidate.name !== "string" || typeof candidate.start !== "function" || !hasSchema(candidate.config)) return false;
  if (candidate.shape !== "TREE") return typeof candidate.fetchPage === "function";
  const named = Array.isArray(candidate.levels) && (candidate.levels.length >= 2 || typeof candidate.levelsOf === "function");
  return named && typeof candidate.children === "function";
}

function isProcessor(value: unknown): value is AnyProcessor {
  const candidate = value as AnyProcessor | null;
  return typeof candidate === "object" && candidate !== null && typeof candidate.name === "string" && typeof candidate.run === "function" && hasSchema(candidate.input);
}

function isCollector(value: unknown): value is AnyCollector {
  const candidate = value as AnyCollector | null;
  return typeof candidate === "object" && candidate !== null && typeof candidate.name === "string" && typeof candidate.collect === "function" && hasSchema(candidate.config);
}

function add<T extends { name: string }>(map: Map<string, T>, what: string, definition: T): void {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(definition.name)) throw new Error(`A ${what}'s name must be lower-case letters, digits and - (got "${definition.name}")`);
  if (map.has(definition.name)) throw new Error(`Two ${what}s are named "${definition.name}"`);
  map.set(definition.name, definition);
}

/** Adds a source; a second one with the same name is a configuration mistake. */
export function registerSource(source: AnySource): void {
  if (!isSource(source)) throw new Error("Not a source: it needs name, config (a zod schema), start and fetchPage (or, with shape TREE, levels and children)");
  add(sources, "source", source);
}

/** Adds a processor; a second one with the same name is a configuration mistake. */
export function registerProcessor(processor: AnyProcessor): void {
  if (!isProcessor(processor)) throw new Error("Not a processor: it needs name, input (a zod schema) and run");
  add(processors, "processor", processor);
}

/**
 * Adds a collector definition. One whose config needs nothing (every field
 * has a default) runs as it is, under its own name; the others run as
 * MILEPOST_COLLECTORS configures them (addCollector).
 */
export function registerCollector(collector: AnyCollector): void {
  if (!isCollector(collector)) throw new Error("Not a collector: it needs name, config (a zod schema) and collect");
  add(collectorKinds, "collector", collector);
  const config = collector.config.safeParse({});
  if (config.success) addCollector({ name: collector.name, kind: collector.name, config: config.data });
}

/** Adds a collector that runs a registered definition with the given config (validated here: a mistake stops the start). */
export function addCollector(entry: { name: string; kind: string; config?: unknown; description?: string; schedule?: string | null; dataset?: string }): void {
  const refusal = entry.schedule ? cronRefusal(entry.schedule) : null;
  if (refusal) throw new Error(`The collector "${entry.name}": ${refusal}`);
  const kind = collectorKinds.get(entry.kind);
  if (!kind) throw new Error(`The collector "${entry.name}" uses "${entry.kind}", which is not a registered collector (known: ${[...collectorKinds.keys()].join(", ")})`);
  const config = kind.config.safeParse(entry.config ?? {});
  if (!config.success) throw new Error(`The collector "${entry.name}": its config does not fit "${entry.kind}": ${config.error.message}`);
  add(collectors, "running collector", {
    name: entry.name,
    description: entry.description ?? kind.description,
    schedule: entry.schedule ?? kind.schedule ?? null,
    dataset: entry.dataset ?? kind.dataset ?? entry.name,
    kind,
    config: config.data,
  });
}

export function getCollector(name: string): RunnableCollector | undefined {
  return collectors.get(name);
}

export function listCollectors(): RunnableCollector[] {
  return [...collectors.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function getSource(name: string): AnySource | undefined {
  return sources.get(name);
}

export function listSources(): AnySource[] {
  return [...sources.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function getProcessor(name: string): AnyProcessor | undefined {
  return processors.get(name);
}

export function listProcessors(): AnyProcessor[] {
  return [...processors.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Forgets every definition (tests start servers with other plugins in one process). */
export function clearRegistry(): void {
  sources.clear();
  processors.clear();
  collectorKinds.clear();
  collectors.clear();
}

/**
 * Loads MILEPOST_PLUGINS: each module's default export is a definition or
 * an array of them, sources, processors and collectors alike (plain objects work; the
 * define* helpers only add types).
 */
export async function loadPlugins(paths: string[], log: Logger): Promise<void> {
  for (const path of paths) {
    const url = pathToFileURL(isAbsolute(path) ? path : resolve(process.cwd(), path)).href;
    let module: { default?: unknown };
    try {
      module = (await import(url)) as { default?: unknown };
    } catch (error) {
      throw new Error(`MILEPOST_PLUGINS: cannot load ${path}: ${(error as Error).message}`, { cause: error });
    }
    const exported = Array.isArray(module.default) ? module.default : [module.default];
    for (const definition of exported) {
      if (isSource(definition)) {
        registerSource(definition);
        log.info({ source: definition.name, plugin: path }, "plugin source loaded");
      } else if (isProcessor(definition)) {
        registerProcessor(definition);
        log.info({ processor: definition.name, plugin: path }, "plugin processor loaded");
      } else if (isCollector(definition)) {
        registerCollector(definition);
        log.info({ collector: definition.name, plugin: path }, "plugin collector loaded");
      } else {
        throw new Error(`MILEPOST_PLUGINS: ${path} does not export a source, a processor or a collector (or an array of them) as default`);
      }
    }
  }
}

/** One entry of MILEPOST_COLLECTORS: a collector that runs the definition `use` with `config`. */
const collectorEntry = z
  .object({
    name: z.string(),
    use: z.string(),
    description: z.string().max(500).optional(),
    config: z.unknown().optional(),
    schedule: z.string().nullable().optional(),
    dataset: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, "letters, digits and . _ : - (at most 100)").optional(),
  })
  .strict();

/**
 * Loads MILEPOST_COLLECTORS: a JSON file holding an array of collectors,
 * each a registered definition (`use`, e.g. http-json-collector) with its
 * config. A mistake in it stops the start, naming the entry.
 */
export async function loadCollectors(path: string, log: Logger): Promise<void> {
  let text: unknown;
  try {
    text = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new Error(`MILEPOST_COLLECTORS: cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  const entries = z.array(collectorEntry).safeParse(text);
  if (!entries.success) {
    const issues = entries.error.issues.map((issue) => `entry ${issue.path.map(String).join(".")}: ${issue.message}`);
    throw new Error(`MILEPOST_COLLECTORS: ${path} is not an array of { name, use, config?, description?, schedule?, dataset? }: ${issues.join("; ")}`);
  }
  for (const entry of entries.data) {
    addCollector({ ...entry, kind: entry.use });
    log.info({ collector: entry.name, use: entry.use }, "collector configured");
  }
}
