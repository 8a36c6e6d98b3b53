import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Logger } from "./logger.js";
import type { AnyProcessor } from "./engine/processor.js";
import type { AnySource } from "./sources/types.js";

/**
 * The definitions this process knows: built-in and plugin sources (for
 * imports) and processors (for queue items and job steps), by name.
 */
const sources = new Map<string, AnySource>();
const processors = new Map<string, AnyProcessor>();

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
}

/**
 * Loads MILEPOST_PLUGINS: each module's default export is a definition or
 * an array of them, sources and processors alike (plain objects work; the
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
      } else {
        throw new Error(`MILEPOST_PLUGINS: ${path} does not export a source or a processor (or an array of them) as default`);
      }
    }
  }
}
