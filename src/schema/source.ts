import { z } from "zod";
import { listSources } from "../registry.js";
import type { AnySource } from "../sources/types.js";
import { builder } from "./builder.js";

const SourceShapeEnum = builder.enumType("SourceShape", { values: ["FLAT", "TREE"] as const });

const SourceRef = builder.objectRef<AnySource>("Source").implement({
  description: "A registered kind of import source (built in or from a plugin).",
  fields: (t) => ({
    name: t.exposeString("name"),
    description: t.exposeString("description"),
    shape: t.field({ type: SourceShapeEnum, resolve: (source) => source.shape ?? "FLAT" }),
    configSchema: t.field({
      type: "JSON",
      description: "JSON Schema of the config that startImport accepts for this source.",
      resolve: (source) => z.toJSONSchema(source.config, { io: "input", unrepresentable: "any" }),
    }),
    levels: t.stringList({ resolve: (source) => source.levels ?? [] }),
  }),
});

builder.queryField("sources", (t) => t.field({ type: [SourceRef], description: "Every registered source, built in or from MILEPOST_PLUGINS.", resolve: () => listSources() }));
