// A pg-boss worker process for bench/queue.ts, in pg-boss's best mode: batches
// of 50 per fetch, the same no-op handler, and the worker woken after each
// batch instead of sleeping its polling interval. It connects, says "ready",
// and starts working when a line comes on stdin, so its start-up is not timed.
import { createInterface } from "node:readline";
import PgBoss from "pg-boss";

const boss = new PgBoss({ connectionString: process.env.DATABASE_URL!, schema: "pgboss", supervise: false, schedule: false });
boss.on("error", (error) => console.error(error));
await boss.start();
console.log("ready");
createInterface({ input: process.stdin }).once("line", async () => {
  const id: string = await boss.work(process.env.QUEUE!, { batchSize: 50, pollingIntervalSeconds: 0.5 }, async () => {
    boss.notifyWorker(id);
  });
});
process.once("SIGTERM", () => void boss.stop({ graceful: false, wait: true }).then(() => process.exit(0)));
