// The benchmarks' processor: does nothing (or, with `sleepMs`, waits that long unless aborted), so what is measured is the engine.
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";

export default {
  name: "noop",
  description: "Does nothing (benchmarks)",
  input: z.object({ n: z.number(), sleepMs: z.number().int().min(0).optional() }),
  run: async (ctx, input) => {
    if (input.sleepMs) await sleep(input.sleepMs, undefined, { signal: ctx.signal });
    return null;
  },
};
