// Enqueues 500 items in batches of 100, then shows the queue's status live
// until it is drained. By default it checks the demo pages this server
// serves with http-check; ENQUEUE_QUEUE picks another queue (its items'
// payload is then {"n": <number>}), ENQUEUE_COUNT another number of items.
//
//   npx tsx client-examples/enqueue-batch.ts
//
// MILEPOST_URL and MILEPOST_TOKEN: see milepost.ts.
import { gql, live, redraw, url } from "./milepost.js";

const queue = process.env.ENQUEUE_QUEUE ?? "http-check";
const count = Number(process.env.ENQUEUE_COUNT ?? 500);
const BATCH = 100;
const run = Date.now().toString(36); // keys of this run: a second run adds its own items
const demo = `${new URL(url).origin}/demo/pages/home`;
const payloadOf = (n: number) => (queue === "http-check" ? { url: `${demo}?n=${n}` } : { n });

type Status = { pending: number; running: number; waiting: number; completed: number; failed: number; cancelled: number; total: number; paused: boolean; current: { key: string; durationSeconds: number | null }[] };
const FIELDS = "pending running waiting completed failed cancelled total paused current { key durationSeconds }";

let added = 0;
let skipped = 0;
for (let start = 0; start < count; start += BATCH) {
  const items = Array.from({ length: Math.min(BATCH, count - start) }, (_, index) => ({ key: `${run}-${start + index}`, label: `item ${start + index}`, payload: payloadOf(start + index) }));
  const { enqueue } = await gql<{ enqueue: { added: { id: string }[]; skipped: { key: string; reason: string; message: string | null }[] } }>(
    `mutation($input: EnqueueInput!) { enqueue(input: $input) { added { id } skipped { key reason message } } }`,
    { input: { queue, items } },
  );
  added += enqueue.added.length;
  skipped += enqueue.skipped.length;
  for (const skip of enqueue.skipped.slice(0, 3)) console.log(`skipped ${skip.key}: ${skip.reason}${skip.message ? ` (${skip.message})` : ""}`);
  console.log(`batch ${start / BATCH + 1}: ${enqueue.added.length} added, ${enqueue.skipped.length} skipped`);
}
console.log(`${added} items added to "${queue}", ${skipped} skipped; watching the queue (Ctrl+C stops watching, the work goes on)\n`);

function draw(status: Status): void {
  const cells = [status.pending, status.running, status.waiting, status.completed, status.failed, status.cancelled, status.total].map((value) => String(value).padStart(9));
  const running = status.current.slice(0, 3).map((item) => `${item.key} ${(item.durationSeconds ?? 0).toFixed(1)}s`).join(", ");
  redraw(`${cells.join(" ")}  ${status.paused ? "PAUSED " : ""}${running}`);
}

const client = live();
process.once("SIGINT", () => void Promise.resolve(client.dispose()).then(() => process.exit(0)));
console.log(["pending", "running", "waiting", "completed", "failed", "cancelled", "total"].map((name) => name.padStart(9)).join(" "));
for await (const result of client.iterate<{ queueStatusUpdated: Status }>({ query: `subscription($queue: String) { queueStatusUpdated(queue: $queue) { ${FIELDS} } }`, variables: { queue } })) {
  if (result.errors) throw new Error(result.errors.map((error) => error.message).join("; "));
  const status = result.data!.queueStatusUpdated;
  draw(status);
  if (status.pending + status.running + status.waiting === 0) {
    process.stdout.write(`\ndrained: ${status.completed} completed, ${status.failed} failed, ${status.cancelled} cancelled\n`);
    break;
  }
}
await client.dispose();
