// Starts a backup of a nested API (the demo-backup source: org > workspace >
// app > item) and follows it live: where it is at every level, the counts
// per level, and, when the upstream rate-limits it, the wait with a
// countdown. Press "r" (then Enter, when not on a terminal) to retry now.
//
//   npx tsx client-examples/backup-progress.ts
//
// BACKUP_CONFIG (JSON) is the source's config, e.g. {"baseUrl": "…"}.
// MILEPOST_URL and MILEPOST_TOKEN: see milepost.ts.
import { gql, live } from "./milepost.js";

type Level = { level: string; index: number; total: number | null; key: string | null; label: string | null };
type View = {
  id: string;
  status: string;
  resumeAt: string | null;
  lastError: string | null;
  itemsProcessed: number;
  levels: { level: string; discovered: number; done: number }[];
  checkpoint: { path: Level[] } | null;
};
const FIELDS = "id status resumeAt lastError itemsProcessed levels { level discovered done } checkpoint { path { level index total key label } }";

const config = JSON.parse(process.env.BACKUP_CONFIG ?? "{}") as unknown;
const { startImport } = await gql<{ startImport: View }>(`mutation($input: StartImportInput!) { startImport(input: $input) { ${FIELDS} } }`, {
  input: { source: "demo-backup", config, resumeExisting: true },
});
const id = startImport.id;
console.log(`backup ${id}: press r to retry now while it waits for a rate limit`);

/** Server text as it may be printed: no control characters. */
const plain = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ");

let last: View = startImport;
function draw(): void {
  const where = (last.checkpoint?.path ?? []).map((step) => `${step.level} ${step.index + 1}/${step.total ?? "?"} '${plain(step.label ?? step.key ?? "")}'`).join(" › ");
  const counts = last.levels.map((level) => `${level.level} ${level.done}/${level.discovered}`).join("  ");
  const wait =
    last.status === "WAITING" && last.resumeAt
      ? `  rate limited: resumes in ${Math.max(0, Math.round((Date.parse(last.resumeAt) - Date.now()) / 1000))} s (r: retry now)`
      : "";
  process.stdout.write(`\r\u001b[K${last.status}  ${counts}  at ${where || "the top"}${wait}`);
}
// The countdown moves between updates.
const ticker = setInterval(draw, 1000);

process.stdin.setEncoding("utf8");
if (process.stdin.isTTY) process.stdin.setRawMode(true);
process.stdin.on("data", (keys: string) => {
  if (keys.includes("\u0003")) process.exit(130); // Ctrl+C in raw mode
  if (!keys.toLowerCase().includes("r")) return;
  if (last.status !== "WAITING") return void process.stdout.write("\nnot waiting: nothing to retry\n");
  gql(`mutation($id: ID!) { retryImportNow(id: $id) { status } }`, { id }).then(
    () => process.stdout.write("\nretrying now\n"),
    (error: Error) => process.stdout.write(`\ncould not retry: ${error.message}\n`),
  );
});

const client = live();
for await (const result of client.iterate<{ importUpdated: View }>({ query: `subscription($id: ID!) { importUpdated(id: $id) { ${FIELDS} } }`, variables: { id } })) {
  if (result.errors) throw new Error(result.errors.map((error) => error.message).join("; "));
  last = result.data!.importUpdated;
  draw();
  if (["COMPLETED", "FAILED", "CANCELLED"].includes(last.status)) {
    process.stdout.write(`\n${last.status}: ${last.itemsProcessed} items${last.lastError ? `; last error: ${plain(last.lastError)}` : ""}\n`);
    break;
  }
}
clearInterval(ticker);
process.stdin.pause();
await client.dispose();
