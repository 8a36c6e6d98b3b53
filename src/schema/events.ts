import type { Listener } from "../engine/event-hub.js";
import { prisma } from "../db/client.js";
import type { SubjectKind } from "../generated/prisma/enums.js";
import {
  eventFromRow,
  eventWhere,
  matches,
  type CheckpointEvent,
  type EventFilter,
  type LogEvent,
  type MilepostEvent,
  type ProgressEvent,
  type StatusEvent,
} from "../engine/events.js";
import { builder } from "./builder.js";
import { connectionOf, forwardPage } from "./forward-page.js";
import { CheckpointRef } from "./checkpoint.js";
import { parseEventId, parseId } from "../engine/errors.js";
import { listen, liveValue, untilClosed } from "./live.js";
import { StatusEnum } from "./status.js";

export const EventKindEnum = builder.enumType("EventKind", { values: ["PROGRESS", "CHECKPOINT", "LOG", "STATUS"] as const });
export const SubjectKindEnum = builder.enumType("SubjectKind", {
  values: ["IMPORT", "QUEUE_ITEM", "JOB", "JOB_STEP", "COLLECTOR_RUN"] as const,
});
const LogLevelEnum = builder.enumType("LogLevel", { values: ["DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR"] as const });

const SubjectInput = builder.inputType("SubjectInput", {
  fields: (t) => ({
    kind: t.field({ type: SubjectKindEnum, required: true }),
    id: t.id({ required: true }),
  }),
});

const TYPE_OF_KIND = {
  PROGRESS: "ProgressEvent",
  CHECKPOINT: "CheckpointEvent",
  LOG: "LogEvent",
  STATUS: "StatusEvent",
} as const;

export const EventRef = builder.interfaceRef<MilepostEvent>("Event").implement({
  resolveType: (event) => TYPE_OF_KIND[event.kind],
  fields: (t) => ({
    id: t.exposeID("id", { description: "Monotonic per database; a client that reconnects passes the last one it saw as `after`." }),
    kind: t.expose("kind", { type: EventKindEnum }),
    subjectKind: t.expose("subjectKind", { type: SubjectKindEnum }),
    subjectId: t.id({ resolve: (event) => String(event.subjectId) }),
    at: t.expose("at", { type: "DateTime" }),
  }),
});

builder.objectRef<ProgressEvent>("ProgressEvent").implement({
  interfaces: [EventRef],
  description: "Counters of running work; coalesced to at most 4 a second per subject and not persisted.",
  fields: (t) => ({
    done: t.exposeInt("done"),
    total: t.exposeInt("total", { nullable: true }),
    progress: t.exposeFloat("progress", { nullable: true }),
    ratePerSecond: t.exposeFloat("ratePerSecond", { nullable: true }),
    etaSeconds: t.exposeFloat("etaSeconds", { nullable: true }),
    counters: t.field({ type: "JSON", resolve: (event) => event.counters }),
  }),
});

builder.objectRef<CheckpointEvent>("CheckpointEvent").implement({
  interfaces: [EventRef],
  description: "A checkpoint committed; only the subject's last one is kept.",
  fields: (t) => ({ checkpoint: t.field({ type: CheckpointRef, resolve: (event) => event.checkpoint }) }),
});

builder.objectRef<LogEvent>("LogEvent").implement({
  interfaces: [EventRef],
  fields: (t) => ({
    level: t.expose("level", { type: LogLevelEnum }),
    message: t.exposeString("message"),
  }),
});

builder.objectRef<StatusEvent>("StatusEvent").implement({
  interfaces: [EventRef],
  fields: (t) => ({
    from: t.expose("from", { type: StatusEnum, nullable: true }),
    to: t.expose("to", { type: StatusEnum }),
    reason: t.exposeString("reason", { nullable: true }),
  }),
});

type SubjectArg = { kind: SubjectKind; id: string | number };

function filterOf(subject: SubjectArg | null | undefined, kinds: readonly MilepostEvent["kind"][] | null | undefined, subjectKinds?: readonly SubjectKind[] | null): EventFilter {
  return {
    subject: subject ? { kind: subject.kind, id: parseId(subject.id, "subject.id") } : undefined,
    kinds: kinds ?? undefined,
    subjectKinds: subjectKinds ?? undefined,
  };
}

const REPLAY_PAGE = 500;

builder.queryField("events", (t) =>
  t.connection(
    {
      type: EventRef,
      description: "Persisted LOG and STATUS events (and the last CHECKPOINT) of one subject, oldest first.",
      args: {
        subject: t.arg({ type: SubjectInput, required: true }),
        kinds: t.arg({ type: [EventKindEnum] }),
      },
      resolve: async (_root, args) => {
        const filter = filterOf(args.subject, args.kinds);
        const first = forwardPage(args, { default: 100, max: 1000 });
        const after = args.after ? parseEventId(args.after) : undefined;
        const rows = await prisma().event.findMany({ where: eventWhere(filter, after), orderBy: { id: "asc" }, take: first + 1 });
        return connectionOf(rows.slice(0, first).map(eventFromRow), (event) => event.id, {
          hasNextPage: rows.length > first,
          hasPreviousPage: after !== undefined,
          totalCount: () => prisma().event.count({ where: eventWhere(filter) }),
        });
      },
    },
    { name: "EventConnection" },
    { name: "EventEdge" },
  ),
);

/**
 * Live events, after replaying the persisted ones past `after`. The live
 * stream is opened before the replay reads the table, so nothing committed
 * in between is missed; what both deliver is sent once.
 */
async function* eventStream(live: Listener, filter: EventFilter, after: bigint | undefined): AsyncGenerator<MilepostEvent> {
  try {
    let replayedUpTo = after;
    if (after !== undefined) {
      for (;;) {
        const rows = await prisma().event.findMany({ where: eventWhere(filter, replayedUpTo), orderBy: { id: "asc" }, take: REPLAY_PAGE });
        for (const row of rows) {
          replayedUpTo = row.id;
          yield eventFromRow(row);
        }
        if (rows.length < REPLAY_PAGE) break;
      }
    }
    for await (const event of live) {
      if (!matches(event, filter)) continue;
      if (replayedUpTo !== undefined && event.kind !== "PROGRESS" && BigInt(event.id) <= replayedUpTo) continue;
      yield event;
    }
  } finally {
    live.close();
  }
}

builder.subscriptionField("events", (t) =>
  t.field({
    type: EventRef,
    description: "Events of one subject, or of all subjects when none is given. With `after`, first replays the persisted events after that id.",
    args: {
      subject: t.arg({ type: SubjectInput }),
      kinds: t.arg({ type: [EventKindEnum] }),
      subjectKinds: t.arg({ type: [SubjectKindEnum], description: "Without a subject: only events of subjects of these kinds, e.g. [IMPORT, JOB, COLLECTOR_RUN] without the thousands of queue items and steps." }),
      after: t.arg.id(),
    },
    subscribe: (_root, args, ctx) => {
      const filter = filterOf(args.subject, args.kinds, args.subjectKinds);
      const after = args.after ? parseEventId(args.after) : undefined;
      const live = listen(ctx, { subject: filter.subject });
      return untilClosed(live, eventStream(live, filter, after));
    },
    resolve: liveValue,
  }),
);
