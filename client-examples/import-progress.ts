// Starts (or resumes) an import and draws a live progress bar with ETA,
// new/updated counts and errors. Ctrl+C pauses the import; run it again to
// resume from the last checkpoint.
//
//   npx tsx client-examples/import-progress.ts
//
// By default it imports the built-in demo catalogue; IMPORT_SOURCE and
// IMPORT_CONFIG (JSON) choose another source. MILEPOST_URL and MILEPOST_TOKEN:
// see milepost.ts. If the server restarts, it reconnects and carries on.
import { gql, live, redraw } from "./milepost.js";

const source = process.env.IMPORT_SOURCE ?? "demo-movies";
const config = JSON.parse(process.env.IMPORT_CONFIG ?? "{}") as unknown;

type View = {
  id: string;
  status: string;
  pagesDone: number;
  totalPages: number | null;
  progress: number | null;
  itemsNew: number;
  itemsUpdated: number;
  itemsUnchanged: number;
  errorCount: number;
  itemsPerSecond: number | null;
  estimatedCompletionAt: string | null;
  resumeAt: string | null;
  lastError: string | null;
};
const FIELDS = "id status pagesDone totalPages progress itemsNew itemsUpdated itemsUnchanged errorCount itemsPerSecond estimatedCompletionAt resumeAt lastError";

const { startImport } = await gql<{ startImport: View }>(
  `mutation($input: StartImportInput!) { startImport(input: $input) { ${FIELDS} } }`,
  { input: { source, config, resumeExisting: true } },
);
const id = startImport.id;
console.log(`import ${id} (${source}); Ctrl+C pauses it, running this again resumes it`);

function draw(view: View): void {
  const width = 30;
  const filled = Math.round((view.progress ?? 0) * width);
  const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
  const eta = view.estimatedCompletionAt ? `ETA ${Math.max(0, Math.round((Date.parse(view.estimatedCompletionAt) - Date.now()) / 1000))} s` : "ETA —";
  const rate = view.itemsPerSecond ? `${Math.round(view.itemsPerSecond)} items/s` : "";
  const waiting = view.status === "WAITING" && view.resumeAt ? ` until ${view.resumeAt}` : "";
  redraw(`${bar} ${view.pagesDone}/${view.totalPages ?? "?"} pages  new ${view.itemsNew}  updated ${view.itemsUpdated}  unchanged ${view.itemsUnchanged}  errors ${view.errorCount}  ${rate}  ${eta}  ${view.status}${waiting}`);
}

const client = live();
let pausing = false;
process.on("SIGINT", () => {
  if (pausing) process.exit(130);
  pausing = true;
  process.stdout.write("\npausing at the next checkpoint…\n");
  gql(`mutation($id: ID!) { pauseImport(id: $id) { id } }`, { id }).catch((error: Error) => {
    console.error(`could not pause: ${error.message}`);
    process.exit(1);
  });
});

for await (const result of client.iterate<{ importUpdated: View }>({ query: `subscription($id: ID!) { importUpdated(id: $id) { ${FIELDS} } }`, variables: { id } })) {
  if (result.errors) throw new Error(result.errors.map((error) => error.message).join("; "));
  const view = result.data!.importUpdated;
  draw(view);
  if (["COMPLETED", "FAILED", "CANCELLED", "PAUSED"].includes(view.status)) {
    process.stdout.write(`\n${view.status}${view.lastError ? `: ${view.lastError}` : ""}\n`);
    break;
  }
}
await client.dispose();
