import type { z } from "zod";
import { configSchema } from "./config.js";

type Def = { type: string; defaultValue?: unknown; in?: { _zod: { def: Def } }; innerType?: { _zod: { def: Def } } };

function defaultOf(def: Def): unknown {
  if (def.type === "default") return def.defaultValue;
  if (def.type === "pipe" && def.in) return defaultOf(def.in._zod.def);
  return undefined;
}

/** The README's configuration table, printed from the config schema so the two cannot drift. */
export function configTable(): string {
  const rows = Object.entries(configSchema.shape).map(([name, schema]) => {
    const fallback = defaultOf((schema as z.ZodType)._zod.def as Def);
    const shown = fallback === undefined || fallback === "" ? "—" : `\`${String(fallback)}\``;
    return `| \`${name}\` | ${shown} | ${(schema as z.ZodType).description ?? ""} |`;
  });
  return ["| variable | default | meaning |", "| --- | --- | --- |", ...rows].join("\n");
}
