// Prints Milepost's live events, and after a reconnect or a restart of this
// script, the persisted ones it missed (it keeps the last id it saw).
//
//   npx tsx client-examples/watch-events.ts [IMPORT 42]
//
// MILEPOST_URL and MILEPOST_TOKEN: see milepost.ts.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { live } from "./milepost.js";

const [kind, id] = process.argv.slice(2);
const subject = kind && id ? { kind, id } : null;
const bookmark = process.env.WATCH_EVENTS_BOOKMARK ?? ".watch-events-last-id";
let after: string | null = existsSync(bookmark) ? readFileSync(bookmark, "utf8").trim() : null;

// It reconnects by itself; each subscription passes the last id seen as `after`, so the server replays what was missed.
const client = live();

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
  try {
    for await (const result of events) {
      if (result.errors) throw new Error(result.errors.map((error) => error.message).join("; "));
      const event = result.data!.events;
      // After a reconnect the client resubscribes with the `after` it started with: skip what was already shown.
      if (event.kind !== "PROGRESS" && after !== null && BigInt(event.id) <= BigInt(after)) continue;
      console.log(`${event.at} #${event.id} ${event.subjectKind} ${event.subjectId} ${event.kind} ${describe(event)}`);
      if (event.kind !== "PROGRESS") {
        after = event.id;
        writeFileSync(bookmark, after);
      }
    }
  } catch (error) {
    console.error(`subscription ended: ${(error as Error).message ?? JSON.stringify(error)}; resubscribing in 2 s`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}
