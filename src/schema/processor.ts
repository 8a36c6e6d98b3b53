import { z } from "zod";
import type { AnyProcessor } from "../engine/processor.js";
import { listProcessors } from "../registry.js";
import { builder } from "./builder.js";

export const ProcessorRef = builder.objectRef<AnyProcessor>("Processor").implement({
  description: "A registered processor that queue items and job steps run through (built in or from a plugin); a queue is named after its processor.",
  fields: (t) => ({
    name: t.exposeString("name"),
    description: t.exposeString("description"),
    inputSchema: t.field({
      type: "JSON",
      description: "JSON Schema of an item's payload (or a step's input).",
      resolve: (processor) => z.toJSONSchema(processor.input, { io: "input", unrepresentable: "any" }),
    }),
  }),
});

builder.queryField("processors", (t) => t.field({ type: [ProcessorRef], description: "Every registered processor.", resolve: () => listProcessors() }));
