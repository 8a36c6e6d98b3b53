import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Logger } from "../logger.js";
import type { AnySource } from "./types.js";

const sources = new Map<string, AnySource>();

function isSource(value: unknown): value is AnySource {
  const candidate = value as AnySource;
  return (
    typeof candidate === "object" &&
    candidate !== null &&
    typeof candidate.name === "string" &&
    typeof candidate.fetchPage === "function" &&
    typeof candidate.start === "function" &&
    typeof candidate.config?.safeParse === "function"
  );
}

/** Adds a source; a second one with the same name is a configuration mistake. */
export function registerSource(source: AnySource): void {
  if (!isSource(source)) throw new Error("Not a source: it needs name, config (a zod schema), start and fetchPage");
  if (sources.has(source.name)) throw new Error(`Two sources are named "${source.name}"`);
  sources.set(source.name, source);
}

export function getSource(name: string): AnySource | undefined {
  return sources.get(name);
}

export function listSources(): AnySource[] {
  return [...sources.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Forgets every source (tests start servers with other plugins in one process). */
export function clearSources(): void {
  sources.clear();
}

/**
 * Loads MILEPOST_PLUGINS: each module's default export is a definition or
 * an array of them (plain objects work; the define* helpers only add types).
 * Sources are registered here; processors and collectors join as they come.
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
      if (!isSource(definition)) throw new Error(`MILEPOST_PLUGINS: ${path} does not export a source (or an array of them) as default`);
      registerSource(definition);
      log.info({ source: definition.name, plugin: path }, "plugin source loaded");
    }
  }
}
