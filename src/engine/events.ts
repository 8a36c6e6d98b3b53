import type { EventKind, Status, SubjectKind } from "../generated/prisma/enums.js";
import { Prisma, type Event as EventRow } from "../generated/prisma/client.js";
import type { Tx } from "../db/client.js";
import { redactDeep } from "../secrets.js";
import { DB_NOW, DB_NOW_ISO } from "./clock.js";
import { storableJson, storableText } from "./storable.js";

/** The Postgres channel every process NOTIFYs on and every api process LISTENs to. */
export const EVENTS_CHANNEL = "milepost_events";
/** NOTIFY payloads must stay under 8000 bytes; a larger event goes by reference. */
export const MAX_NOTIFY_BYTES = 7800;
const MAX_LOG_MESSAGE = 4000;

export type LogLevel = "DEBUG" | "INFO" | "SUCCESS" | "WARNING" | "ERROR";

export interface CheckpointLevel {
  level: string;
  index: number;
  total?: number | null;
  key?: string | null;
  label?: string | null;
}

export interface Checkpoint {
  path: CheckpointLevel[];
  position: Prisma.InputJsonValue;
  at: string;
}

interface Head {
  /** Monotonic per database (the Event table's sequence), as a string. */
  id: string;
  subjectKind: SubjectKind;
  subjectId: number;
  /**
   * What the subject belongs to, when a subscriber may follow a group of
   * subjects: a queue item's queue, a step's job. Events are delivered on
   * the topic `KIND@scope` as well as `KIND:id`.
   */
  scope?: string | null;
  at: Date;
}

export interface ProgressEvent extends Head {
  kind: "PROGRESS";
  done: number;
  total: number | null;
  progress: number | null;
  ratePerSecond: number | null;
  etaSeconds: number | null;
  counters: Record<string, number>;
}
export interface CheckpointEvent extends Head {
  kind: "CHECKPOINT";
  checkpoint: Checkpoint;
}
export interface LogEvent extends Head {
  kind: "LOG";
  level: LogLevel;
  message: string;
}
export interface StatusEvent extends Head {
  kind: "STATUS";
  from: Status | null;
  to: Status;
  reason: string | null;
}

/** Everything that flows to subscribers. */
export type MilepostEvent = ProgressEvent | CheckpointEvent | LogEvent | StatusEvent;
type Distribute<T> = T extends MilepostEvent ? Omit<T, "id" | "at"> : never;
/** What a publisher gives: the event without the id and time the database assigns. */
export type EventInput = Distribute<MilepostEvent>;
export type PersistedEventInput = Exclude<EventInput, { kind: "PROGRESS" }>;

/** Anything that can run Prisma queries: the client or a transaction. */
export type Db = Pick<Tx, "$queryRaw">;

function payloadOf(input: EventInput): Prisma.InputJsonObject {
  const { kind: _kind, subjectKind: _subjectKind, subjectId: _subjectId, ...payload } = input;
  return payload as unknown as Prisma.InputJsonObject;
}

/** The event an Event row stands for. */
export function eventFromRow(row: EventRow): MilepostEvent {
  const payload = row.payload as Record<string, unknown>;
  return {
    ...payload,
    id: row.id.toString(),
    kind: row.kind,
    subjectKind: row.subjectKind,
    subjectId: row.subjectId,
    at: row.at,
  } as MilepostEvent;
}

/**
 * What travels over NOTIFY (as JSON: `at` arrives as a string): an event, a
 * batch of them (a statement that moved many subjects at once), references
 * to events too large to travel (read back from the table), or a revoked
 * token's id (its subscriptions end in every api process).
 */
export type Notice = { event: MilepostEvent } | { statuses: StatusBatch } | { ref: string } | { refs: string[] } | { revoked: number };

/** The STATUS events of one statement that moved many subjects, in a compact form: [id, subjectId, from, to, reason, scope]. */
export interface StatusBatch {
  subjectKind: SubjectKind;
  at: string;
  events: [string, number, Status | null, Status, string | null, string | null][];
}

/** The events a StatusBatch stands for. */
export function eventsOfBatch(batch: StatusBatch): StatusEvent[] {
  const at = new Date(batch.at);
  return batch.events.map(([id, subjectId, from, to, reason, scope]) => ({ id, kind: "STATUS", subjectKind: batch.subjectKind, subjectId, from, to, reason, scope, at }));
}

/** Tells every api process, when the transaction commits, that a token was revoked. */
export async function noticeRevoked(db: Db, tokenId: number): Promise<void> {
  await db.$queryRaw`SELECT pg_notify(${EVENTS_CHANNEL}, ${JSON.stringify({ revoked: tokenId } satisfies Notice)})::text`;
}

/** `notice`: what NOTIFY carries for the event whose id and time the CTE `stored` yields. */
function noticeCte(event: Omit<MilepostEvent, "id" | "at">): Prisma.Sql {
  return Prisma.sql`notice AS (
      SELECT id, jsonb_build_object('event', ${JSON.stringify(event)}::jsonb || jsonb_build_object('id', id::text, 'at', ${DB_NOW_ISO}))::text AS text FROM stored
    )`;
}

/** NOTIFYs `notice`'s event, or a reference to it when too large; use in a SELECT over `notice`. */
export const NOTIFY_NOTICE = Prisma.sql`pg_notify(${EVENTS_CHANNEL}, CASE WHEN octet_length(text) > ${MAX_NOTIFY_BYTES} THEN jsonb_build_object('ref', id::text)::text ELSE text END)::text`;

/**
 * What is stored and sent of an event: LOG lines cut so one chatty source
 * cannot bloat the event table, every text made storable (a source's or a
 * processor's message may hold NUL or a lone surrogate), and every secret
 * value redacted, since messages and positions may quote what an upstream
 * sent back.
 */
function prepared<T extends PersistedEventInput>(input: T): T {
  const cut = input.kind === "LOG" ? { ...input, message: storableText(input.message, MAX_LOG_MESSAGE) } : input;
  return storableJson(redactDeep(cut));
}

/**
 * The CTEs that persist an event, for a statement that ends by selecting
 * NOTIFY_NOTICE over `notice`: `gone` drops the subject's older CHECKPOINT
 * (only the last is kept), `stored` inserts the row, `notice` builds the
 * NOTIFY text. Nothing is written unless `guard` (a CTE of the same
 * statement) holds a row, so an event can ride in the statement that makes
 * the change it reports.
 */
export function eventCtes(input: PersistedEventInput, guard: Prisma.Sql = Prisma.sql`(SELECT 1) AS always`): Prisma.Sql {
  const event = prepared(input);
  const { kind, subjectKind, subjectId } = event;
  return Prisma.sql`gone AS (
      DELETE FROM "Event" WHERE ${kind === "CHECKPOINT"} AND kind = 'CHECKPOINT' AND "subjectKind" = ${subjectKind}::"SubjectKind" AND "subjectId" = ${subjectId}
        AND EXISTS (SELECT 1 FROM ${guard})
    ), stored AS (
      INSERT INTO "Event" (kind, "subjectKind", "subjectId", payload, at)
      SELECT ${kind}::"EventKind", ${subjectKind}::"SubjectKind", ${subjectId}, ${JSON.stringify(payloadOf(event))}::jsonb, ${DB_NOW} FROM ${guard}
      RETURNING id, at
    ), ${noticeCte(event)}`;
}

/**
 * Persists a LOG, STATUS or CHECKPOINT event and NOTIFYs it, in one
 * statement. Called inside the transaction that makes the change it
 * reports: Postgres delivers a NOTIFY only when its transaction commits, so
 * subscribers never hear of work that was rolled back.
 */
export async function recordEvent<T extends PersistedEventInput>(db: Db, input: T): Promise<Extract<MilepostEvent, { kind: T["kind"] }>> {
  const [row] = await db.$queryRaw<{ id: bigint; at: Date }[]>`WITH ${eventCtes(input)} SELECT id, (SELECT stored.at FROM stored) AS at, ${NOTIFY_NOTICE} AS sent FROM notice`;
  return { ...prepared(input), id: row.id.toString(), at: row.at } as Extract<MilepostEvent, { kind: T["kind"] }>;
}

/**
 * Sends a PROGRESS event. Progress is not stored (the subject's row holds the
 * counters), but it takes its id from the Event sequence so ids stay monotonic.
 */
export async function sendProgress(db: Db, input: Omit<ProgressEvent, "id" | "at" | "kind">): Promise<ProgressEvent> {
  const event = { ...input, kind: "PROGRESS" as const };
  const [row] = await db.$queryRaw<{ id: bigint; at: Date }[]>`
    WITH stored AS (SELECT nextval(pg_get_serial_sequence('"Event"', 'id')) AS id), ${noticeCte(event)}
    SELECT id, ${DB_NOW} AS at, ${NOTIFY_NOTICE} AS sent FROM notice`;
  return { ...event, id: row.id.toString(), at: row.at };
}

export interface EventFilter {
  subject?: { kind: SubjectKind; id: number };
  kinds?: readonly EventKind[];
  /** Only events of subjects of these kinds (e.g. imports and jobs, without their thousands of items). */
  subjectKinds?: readonly SubjectKind[];
}

/** Prisma's where clause for persisted events matching a filter, after an id. */
export function eventWhere(filter: EventFilter, after?: bigint): Prisma.EventWhereInput {
  return {
    ...(filter.subject ? { subjectKind: filter.subject.kind, subjectId: filter.subject.id } : {}),
    ...(filter.kinds?.length ? { kind: { in: [...filter.kinds] } } : {}),
    ...(filter.subjectKinds?.length && !filter.subject ? { subjectKind: { in: [...filter.subjectKinds] } } : {}),
    ...(after !== undefined ? { id: { gt: after } } : {}),
  };
}

export function matches(event: MilepostEvent, filter: EventFilter): boolean {
  if (filter.subject && (event.subjectKind !== filter.subject.kind || event.subjectId !== filter.subject.id)) return false;
  if (filter.subjectKinds?.length && !filter.subjectKinds.includes(event.subjectKind)) return false;
  return !filter.kinds?.length || filter.kinds.includes(event.kind);
}
