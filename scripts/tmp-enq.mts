import pg from "pg";
import { connectPrisma } from "../src/db/client.js";
import { registerProcessor } from "../src/registry.js";
import { enqueue } from "../src/work/queue/enqueue.js";
import { z } from "zod";
const url = "postgresql://postgres@127.0.0.1:5432/qtest";
connectPrisma(url);
let got = 0;
for (let i = 0; i < Number(process.env.LISTENERS ?? 0); i++) { const l = new pg.Client({ connectionString: url }); await l.connect(); l.on("notification", () => got++); await l.query("LISTEN milepost_events"); }
registerProcessor({ name: "noop", description: "x", input: z.object({ n: z.number() }), run: async () => null });
for (let round = 0; round < 4; round++) {
  const items = Array.from({ length: 10000 }, (_, i) => ({ key: `${process.pid}-${round}-${i}`, payload: { n: i } }));
  const t = performance.now();
  await enqueue({ queue: "noop", items });
  console.log("enqueue 10k ms", Math.round(performance.now() - t), "notices", got);
}
process.exit(0);
