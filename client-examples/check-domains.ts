// Checks a list of domains with the built-in http-check processor, as one
// job: reads a file (one domain or http(s) URL per line, `#` starts a
// comment), creates the job, shows a live progress bar with the last
// results, and prints a summary table and the failures. Ctrl+C offers to
// cancel the job (or leave it running on the server).
//
//   npx tsx client-examples/check-domains.ts client-examples/domains.txt
//   CHECK_CONCURRENCY=16 npx tsx client-examples/check-domains.ts my-domains.txt
//
// MILEPOST_URL and MILEPOST_TOKEN: see milepost.ts.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { gql, live, width } from "./milepost.js";

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const file = process.argv[2];
if (!file) {
  console.error("usage: check-domains.ts <file>   (one domain or URL per line, # for comments)");
  process.exit(2);
}
let text: string;
try {
  text = readFileSync(file, "utf8");
} catch (error) {
  console.error(`cannot read ${file}: ${(error as Error).message}`);
  process.exit(2);
}

// Each line a step; a line that is neither a domain nor a URL is reported and left out, so one typo does not refuse the list.
const seen = new Set<string>();
const steps: { name: string; input: { domain: string } | { url: string } }[] = [];
text.split(/\r?\n/).forEach((raw, index) => {
  const line = raw.replace(/#.*/, "").trim();
  if (!line || seen.has(line.toLowerCase())) return;
  seen.add(line.toLowerCase());
  if (/^https?:\/\//i.test(line)) steps.push({ name: line, input: { url: line } });
  else if (DOMAIN.test(line)) steps.push({ name: line.toLowerCase(), input: { domain: line.toLowerCase() } });
  else console.warn(`line ${index + 1}: "${line}" is not a domain or an http(s) URL; left out`);
});
if (steps.length === 0) {
  console.error(`${file} lists no domain`);
  process.exit(2);
}

const concurrency = Number(process.env.CHECK_CONCURRENCY ?? 8);
const { createJob } = await gql<{ createJob: { id: string } }>(`mutation($input: CreateJobInput!) { createJob(input: $input) { id } }`, {
  input: { kind: "http-check", name: `check ${steps.length} domains from ${file}`, steps, config: { concurrency } },
});
const jobId = createJob.id;
console.log(`job ${jobId}: ${steps.length} domains, ${concurrency} at once (Ctrl+C to cancel)\n`);

type Result = { status: number; ok: boolean; ms: number; title: string | null } | null;
type Step = { number: number; name: string; status: string; attempts: number; result: Result; error: string | null };
type Job = { status: string; totalSteps: number; completedSteps: number; failedSteps: number; cancelledSteps: number; progressPercentage: number; steps: { edges: { node: Step }[] } };
const STEP = "number name status attempts result error";

/** What the server sends back (titles, errors) may come from any website: shown without control characters, which a terminal would obey. */
const printable = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, " ");
const describe = (step: Step) => (step.status === "FAILED" ? `FAILED ${step.error}` : step.result ? `${step.result.status} ${step.result.ms} ms ${step.result.title ?? ""}` : step.status);

let lastDrawn = 0;
function draw(job: Job): void {
  const barWidth = 30;
  const filled = Math.round((job.progressPercentage / 100) * barWidth);
  const bar = `[${"#".repeat(filled)}${".".repeat(barWidth - filled)}] ${job.progressPercentage.toFixed(0).padStart(3)}%  ${job.completedSteps} ok, ${job.failedSteps} failed of ${job.totalSteps}`;
  // The bar and below it the last results (the highest-numbered ended steps), redrawn in place.
  const recent = job.steps.edges.map((edge) => printable(`  ${edge.node.name.padEnd(40).slice(0, 40)} ${describe(edge.node)}`).slice(0, width() - 1));
  if (lastDrawn) process.stdout.write(`\x1b[${lastDrawn}F\x1b[J`);
  process.stdout.write([bar, ...recent].join("\n") + "\n");
  lastDrawn = 1 + recent.length;
}

const client = live();
let asking = false;
process.on("SIGINT", () => {
  if (asking) process.exit(130); // a second Ctrl+C: leave at once
  asking = true;
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  void prompt.question(`\ncancel job ${jobId} on the server? [y/N] `).then(async (answer) => {
    prompt.close();
    if (/^y/i.test(answer.trim())) {
      const { cancelJob } = await gql<{ cancelJob: { status: string; completedSteps: number } }>(`mutation($id: ID!) { cancelJob(id: $id) { status completedSteps } }`, { id: jobId });
      console.log(`job ${jobId} ${cancelJob.status} after ${cancelJob.completedSteps} checks`);
    } else {
      console.log(`job ${jobId} goes on running on the server; see it with: query { job(id: ${jobId}) { status progressPercentage } }`);
    }
    await client.dispose();
    process.exit(0);
  });
});

let final: Job | undefined;
for await (const result of client.iterate<{ jobUpdated: Job }>({
  query: `subscription($id: ID!) { jobUpdated(id: $id) { status totalSteps completedSteps failedSteps cancelledSteps progressPercentage steps(status: [COMPLETED, FAILED], last: 5) { edges { node { ${STEP} } } } } }`,
  variables: { id: jobId },
})) {
  if (result.errors) throw new Error(result.errors.map((error) => error.message).join("; "));
  const job = result.data!.jobUpdated;
  if (!asking) draw(job);
  if (["COMPLETED", "FAILED", "CANCELLED"].includes(job.status)) {
    final = job;
    break;
  }
}
await client.dispose();
if (!final) process.exit(1);

// The summary: every step's outcome, read page by page.
const all: Step[] = [];
for (let after: string | null = null; ; ) {
  const page: { job: { steps: { edges: { cursor: string; node: Step }[]; pageInfo: { hasNextPage: boolean } } } } = await gql(
    `query($id: ID!, $after: String) { job(id: $id) { steps(first: 500, after: $after) { edges { cursor node { ${STEP} } } pageInfo { hasNextPage } } } }`,
    { id: jobId, after },
  );
  all.push(...page.job.steps.edges.map((edge) => edge.node));
  if (!page.job.steps.pageInfo.hasNextPage) break;
  after = page.job.steps.edges.at(-1)!.cursor;
}
const byOutcome = new Map<string, number>();
for (const step of all) {
  const outcome = step.status === "COMPLETED" && step.result ? `HTTP ${step.result.status}` : step.status;
  byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
}
const times = all.filter((step) => step.result).map((step) => step.result!.ms);
console.log(`\njob ${jobId} ${final.status}: ${final.completedSteps} checked, ${final.failedSteps} failed, ${final.cancelledSteps} cancelled`);
console.log(`\n${"outcome".padEnd(16)}${"domains".padStart(8)}`);
for (const [outcome, count] of [...byOutcome].sort((a, b) => b[1] - a[1])) console.log(`${outcome.padEnd(16)}${String(count).padStart(8)}`);
if (times.length) console.log(`\nresponse time: median ${[...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]} ms, slowest ${Math.max(...times)} ms`);
const failures = all.filter((step) => step.status === "FAILED");
if (failures.length) {
  console.log(`\nfailures:`);
  for (const step of failures) console.log(printable(`  ${step.name}: ${step.error} (${step.attempts} attempts)`));
}
