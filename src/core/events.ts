import type { EventKind, Status, SubjectKind } from "../generated/prisma/enums.js";
import type { Event as EventRow, Prisma } from "../generated/prisma/client.js";
import type { Tx } from "../db/client.js";

/** The Postgres channel every process NOTIFYs on and every api process LISTENs to. */
export const EVENTS_CHANNEL = "milepost_events";
/** NOTIFY payloads must stay under 8000 bytes; a larger event goes by reference. */
const MAX_NOTIFY_BYTES = 7800;
/** Long log lines are cut so one chatty source cannot bloat the event table. */
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
export type Db = Pick<Tx, "event" | "$executeRaw" | "$queryRaw">;

export function subjectKey(subjectKind: SubjectKind, subjectId: number | string): string {
  return `${subjectKind}:${subjectId}`;
}

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

/** What travels over NOTIFY (as JSON: `at` arrives as a string): the event, or a reference when too large. */
export type Notice = { event: MilepostEvent } | { ref: string };

async function notify(db: Db, event: MilepostEvent): Promise<void> {
  let text = JSON.stringify({ event } satisfies Notice);
  if (Buffer.byteLength(text) > MAX_NOTIFY_BYTES) text = JSON.stringify({ ref: event.id } satisfies Notice);
  await db.$executeRaw`SELECT pg_notify(${EVENTS_CHANNEL}, ${text})`;
}

/**
 * Persists a LOG, STATUS or CHECKPOINT event and NOTIFYs it. Called inside
 * the transaction that makes the change it reports: Postgres delivers a
 * NOTIFY only when its transaction commits, so subscribers never hear of
 * work that was rolled back. Only a subject's last CHECKPOINT is kept.
 */
export async function recordEvent<T extends PersistedEventInput>(db: Db, input: T): Promise<Extract<MilepostEvent, { kind: T["kind"] }>> {
  if (input.kind === "LOG" && input.message.length > MAX_LOG_MESSAGE) {
    input = { ...input, message: `${input.message.slice(0, MAX_LOG_MESSAGE)}…` };
  }
  if (input.kind === "CHECKPOINT") {
    await db.event.deleteMany({ where: { kind: "CHECKPOINT", subjectKind: input.subjectKind, subjectId: input.subjectId } });
  }
  const row = await db.event.create({
    data: { kind: input.kind, subjectKind: input.subjectKind, subjectId: input.subjectId, payload: payloadOf(input) },
  });
  const event = eventFromRow(row);
  await notify(db, event);
  return event as Extract<MilepostEvent, { kind: T["kind"] }>;
}

/**
 * Sends a PROGRESS event. Progress is not stored (the subject's row holds the
 * counters), but it takes its id from the Event sequence so ids stay monotonic.
 */
export async function sendProgress(db: Db, input: Omit<ProgressEvent, "id" | "at" | "kind">): Promise<ProgressEvent> {
  const [{ id }] = await db.$queryRaw<{ id: bigint }[]>`SELECT nextval(pg_get_serial_sequence('"Event"', 'id')) AS id`;
  const event: ProgressEvent = { ...input, kind: "PROGRESS", id: id.toString(), at: new Date() };
  await notify(db, event);
  return event;
}

export interface EventFilter {
  subject?: { kind: SubjectKind; id: number };
  kinds?: readonly EventKind[];
}

/** Prisma's where clause for persisted events matching a filter, after an id. */
export function eventWhere(filter: EventFilter, after?: bigint): Prisma.EventWhereInput {
  return {
    ...(filter.subject ? { subjectKind: filter.subject.kind, subjectId: filter.subject.id } : {}),
    ...(filter.kinds?.length ? { kind: { in: [...filter.kinds] } } : {}),
    ...(after !== undefined ? { id: { gt: after } } : {}),
  };
}

export function matches(event: MilepostEvent, filter: EventFilter): boolean {
  if (filter.subject && (event.subjectKind !== filter.subject.kind || event.subjectId !== filter.subject.id)) return false;
  return !filter.kinds?.length || filter.kinds.includes(event.kind);
}
