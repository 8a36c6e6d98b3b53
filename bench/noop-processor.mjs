// The benchmarks' processor: does nothing, so what is measured is the queue.
import { z } from "zod";

export default { name: "noop", description: "Does nothing (benchmarks)", input: z.object({ n: z.number() }), run: async () => null };
