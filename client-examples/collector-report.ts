// Runs a collector, follows the run live, then prints the collector's last
// runs (status, processed / inserted / updated, duration, window) and its
// stats. If a run is already going, it follows that one instead.
//
//   npx tsx client-examples/collector-report.ts            # the built-in demo-stats
//   COLLECTOR=my-collector FULL_REFRESH=1 npx tsx client-examples/collector-report.ts
//
// MILEPOST_URL and MILEPOST_TOKEN: see milepost.ts. Exits 0 when the run
// COMPLETED, 1 otherwise.
import { gql, live, redraw } from "./milepost.js";

const name = process.env.COLLECTOR ?? "demo-stats";
const fullRefresh = process.env.FULL_REFRESH === "1";

type Run = {
  id: string;
  status: string;
  trigger: string;
  recordsProcessed: number;
  recordsInserted: number;
  recordsUpdated: number;
  durationSeconds: number | null;
  window: { years?: number[]; since?: unknown; fullRefresh?: boolean } | null;
  error: string | null;
};
const RUN = "id status trigger recordsProcessed recordsInserted recordsUpdated durationSeconds window error";
const ENDED = ["COMPLETED", "FAILED", "CANCELLED"];

async function startOrFollow(): Promise<Run> {
  try {
    return (await gql<{ runCollector: Run }>(`mutation($input: RunCollectorInput!) { runCollector(input: $input) { ${RUN} } }`, { input: { name, fullRefresh } })).runCollector;
  } catch (error) {
    if (!(error as Error).message.startsWith("CONFLICT:")) throw error;
    const { collector } = await gql<{ collector: { lastRun: Run } }>(`query($name: String!) { collector(name: $name) { lastRun { ${RUN} } } }`, { name });
    console.log(`run ${collector.lastRun.id} of ${name} is already going; following it`);
    return collector.lastRun;
  }
}

/** Years as ranges: 2001–2026, or 2016, 2025–2026. */
function years(list: number[]): string {
  const ranges: string[] = [];
  for (let i = 0; i < list.length; ) {
    let j = i;
    while (j + 1 < list.length && list[j + 1] === list[j] + 1) j++;
    ranges.push(i === j ? String(list[i]) : `${list[i]}–${list[j]}`);
    i = j + 1;
  }
  return `${ranges.join(", ")} (${list.length})`;
}
function windowOf(run: Run): string {
  const parts = [];
  if (run.window?.fullRefresh) parts.push("full refresh");
  if (run.window?.years) parts.push(years(run.window.years));
  if (run.window?.since !== undefined && run.window.since !== null) parts.push(`since ${String(run.window.since)}`);
  return parts.join("; ") || "—";
}
const seconds = (value: number | null) => (value === null ? "—" : `${value.toFixed(1)} s`);
const counts = (run: Run) => `${run.recordsProcessed} / ${run.recordsInserted} / ${run.recordsUpdated}`;

let run: Run;
try {
  run = await startOrFollow();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
console.log(`run ${run.id} of ${name}${fullRefresh ? " (full refresh)" : ""}`);

if (!ENDED.includes(run.status)) {
  const client = live();
  for await (const result of client.iterate<{ collectorRunUpdated: Run }>({ query: `subscription($id: ID!) { collectorRunUpdated(id: $id) { ${RUN} } }`, variables: { id: run.id } })) {
    if (result.errors) {
      console.error(`\n${result.errors.map((error) => error.message).join("; ")}`);
      process.exit(1);
    }
    run = result.data!.collectorRunUpdated;
    const line = `${run.status.padEnd(9)} processed / new / updated ${counts(run)}  ${seconds(run.durationSeconds)}  ${windowOf(run)}`;
    redraw(line);
    if (ENDED.includes(run.status)) break;
  }
  await client.dispose();
  if (process.stdout.isTTY) process.stdout.write("\n");
}
console.log(`${run.status}${run.error ? `: ${run.error}` : ""}`);

type Report = {
  schedule: string | null;
  nextRunAt: string | null;
  lastSuccessAt: string | null;
  stats: { successes: number; failures: number; avgRecordsProcessed: number | null; avgDurationSeconds: number | null; recordsPerSecond: number | null };
  runs: { edges: { node: Run }[] };
};
const { collector } = await gql<{ collector: Report }>(
  `query($name: String!) { collector(name: $name) { schedule nextRunAt lastSuccessAt stats { successes failures avgRecordsProcessed avgDurationSeconds recordsPerSecond } runs(first: 10) { edges { node { ${RUN} } } } } }`,
  { name },
);
console.log(`\nlast runs of ${name}:`);
const rows = collector.runs.edges.map(({ node }) => [node.id, node.status, node.trigger, counts(node), seconds(node.durationSeconds), windowOf(node)]);
const header = ["run", "status", "trigger", "processed / new / updated", "duration", "window"];
const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
for (const row of [header, ...rows]) console.log(row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join("  "));
const { stats } = collector;
const number = (value: number | null, digits = 1) => (value === null ? "—" : value.toFixed(digits));
console.log(
  `\nstats: ${stats.successes} succeeded, ${stats.failures} failed; per run ${number(stats.avgRecordsProcessed, 0)} records in ${number(stats.avgDurationSeconds)} s; ${number(stats.recordsPerSecond, 0)} records/s`,
);
console.log(`schedule: ${collector.schedule ? `${collector.schedule} (UTC), next at ${collector.nextRunAt}` : "none"}; last success ${collector.lastSuccessAt ?? "never"}`);
process.exit(run.status === "COMPLETED" ? 0 : 1);
