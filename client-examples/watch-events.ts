// Prints Milepost's events as they come: for one subject, its whole stored
// history first (LOG, STATUS and its last CHECKPOINT), then live; for all
// subjects, from now (or from where the last run of this script stopped).
// After a dropped connection or a server restart it resubscribes from the
// last event it printed, so nothing stored is missed or shown twice.
//
//   npx tsx client-examples/watch-events.ts              # every subject
//   npx tsx client-examples/watch-events.ts IMPORT 42    # one: its history, then live
//
// The last id printed is kept per subject in .watch-events/ (WATCH_EVENTS_BOOKMARK
// names another file), so a second run goes on from there.
// MILEPOST_URL and MILEPOST_TOKEN: see milepost.ts.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { live } from "./milepost.js";

const [kind, id] = process.argv.slice(2);
const subject = kind && id ? { kind: kind.toUpperCase(), id } : null;
if (kind && !id) {
  console.error("usage: watch-events.ts [KIND ID], e.g. IMPORT 42 (kinds: IMPORT, QUEUE_ITEM, JOB, JOB_STEP, COLLECTOR_RUN)");
  process.exit(2);
}
const bookmark = process.env.WATCH_EVENTS_BOOKMARK ?? join(".watch-events", subject ? `${subject.kind}-${subject.id}` : "all");
// One subject's history is short and is what one wants to see: from its start, unless this bookmark says where it got to.
let after: string | null = existsSync(bookmark) ? readFileSync(bookmark, "utf8").trim() : subject ? "0" : null;
if (subject && after === "0") console.log(`events of ${subject.kind} ${subject.id}, from its first; then live (Ctrl+C stops)`);

// After a reconnect the subscription starts anew from the last id printed, so the server replays what was missed.
let current: AsyncIterator<unknown> | null = null;
const client = live({ reconnected: () => void current?.return?.() });

const query = `subscription($subject: SubjectInput, $after: ID) {
  events(subject: $subject, after: $after) {
    id kind subjectKind subjectId at
    ... on StatusEvent { from to reason }
    ... on LogEvent { level message }
    ... on ProgressEvent { done total etaSeconds }
    ... on CheckpointEvent { checkpoint { position } }
  }
}`;

type Event = { id: string; kind: string; subjectKind: string; subjectId: string; at: string; [field: string]: unknown };

function describe(event: Event): string {
  switch (event.kind) {
    case "STATUS":
      return `${event.from ?? "—"} → ${event.to}${event.reason ? ` (${event.reason})` : ""}`;
    case "LOG":
      return `[${event.level}] ${event.message}`;
    case "PROGRESS":
      return `${event.done}/${event.total ?? "?"}${event.etaSeconds != null ? `, ETA ${Math.round(Number(event.etaSeconds))} s` : ""}`;
    default:
      return JSON.stringify((event.checkpoint as { position: unknown }).position);
  }
}

process.on("SIGINT", () => {
  void client.dispose();
  process.exit(0);
});

for (;;) {
  const events = client.iterate<{ events: Event }>({ query, variables: { subject, after } });
  current = events;
  try {
    for await (const result of events) {
      if (result.errors) throw new Error(result.errors.map((error) => error.message).join("; "));
      const event = result.data!.events;
      // Shown already (a replay overlapping what the last subscription printed): skipped.
      if (event.kind !== "PROGRESS" && after !== null && BigInt(event.id) <= BigInt(after)) continue;
      console.log(`${event.at} #${event.id} ${event.subjectKind} ${event.subjectId} ${event.kind} ${describe(event)}`);
      if (event.kind !== "PROGRESS") {
        after = event.id;
        mkdirSync(dirname(bookmark), { recursive: true });
        writeFileSync(bookmark, after);
      }
    }
  } catch (error) {
    console.error(`subscription ended: ${(error as Error).message ?? JSON.stringify(error)}; resubscribing in 2 s`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}
