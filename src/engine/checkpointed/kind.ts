import type { Prisma, Status } from "../../generated/prisma/client.js";
import type { Config } from "../../config.js";
import type { Checkpoint, LogLevel } from "../events.js";
import type { HttpClient } from "../http-client.js";
import type { WorkKind } from "../kind.js";
import type { Queue } from "../queues.js";

/**
 * The columns every checkpointed kind's table has besides WorkKind's:
 * the sequence of its checkpoints and which attempt wrote the last one
 * (what makes a checkpoint sent twice count once), the resume time of a
 * WAITING row, the crashes in a row, and both stop flags.
 */
export interface CheckpointedRow {
  id: number;
  status: Status;
  checkpointSeq: number;
  checkpointBy: string | null;
  resumeAt: Date | null;
  crashCount: number;
  startedAt: Date | null;
  pauseRequested: boolean;
  cancelRequested: boolean;
}

/**
 * What one unit of progress writes, inside the checkpoint statement
 * (src/engine/checkpointed/checkpoint.ts), which commits it whole or not at
 * all, and only for the attempt holding the lease at the sequence it read.
 */
export interface UnitWrites {
  /** CTEs to add after `lease`; each writes only `WHERE EXISTS (SELECT 1 FROM lease)`. */
  ctes?: Prisma.Sql;
  /** Relations the row's UPDATE reads (its FROM after `lease`), e.g. `counts`. */
  from?: Prisma.Sql;
  /** Assignments of the row's UPDATE (`t` is the row). */
  set: Prisma.Sql;
  /** What the CHECKPOINT event says. */
  checkpoint: Checkpoint;
}

/**
 * How a run ends on its own: done, failed, or waiting (a rate limit, an
 * upstream that keeps failing) to be run again by itself after a while.
 * PAUSED, CANCELLED, a hand-over at shutdown and a lost lease are the
 * engine's, read from the signal.
 */
export type Ending =
  | { to: "COMPLETED"; reason: string }
  | { to: "FAILED"; reason: string; set?: Prisma.Sql }
  | { to: "WAITING"; reason: string; resumeInMs: number; set?: Prisma.Sql };

/** How a run returns: its ending (none when the signal stopped it) and the last unit, committed with it. */
export interface Finish<Unit> {
  ending?: Ending;
  unit?: Unit;
}

/** What a run gets from the engine. */
export interface RunContext<Row, Unit> {
  /** Aborted on pause, cancel, shutdown or a lost lease (its reason says which): pass it to every request. */
  readonly signal: AbortSignal;
  readonly http: HttpClient;
  readonly config: Config;
  /** The row as the last committed checkpoint left it. */
  row(): Row;
  /** A LOG event on the row. */
  log(level: LogLevel, message: string): Promise<void>;
  /**
   * Commits a unit in the background, behind the one committing (one in
   * flight, in order), through database outages; resolves once the one
   * before it has committed, so the run may prepare the next meanwhile.
   * A failure surfaces at the next call, or when the run returns.
   */
  checkpoint(unit: Unit): Promise<void>;
  /** Resolves once every unit sent so far has committed. */
  settled(): Promise<void>;
}

/**
 * A kind of work that runs one row a long time and commits checkpoints
 * (imports; tree imports' nodes and collector runs are its next users): it
 * says what it is and what one unit of progress writes; the engine claims,
 * leases, stops, checkpoints, recovers and resumes it.
 */
export interface CheckpointedKind<Row extends CheckpointedRow, Unit, P = unknown> {
  work: WorkKind & { flags: readonly ["pauseRequested", "cancelRequested"] };
  /** How logs name one row, e.g. "import". */
  noun: string;
  /** The pg-boss queue whose jobs run it, and what a job of a row carries. */
  queue: Queue<P>;
  payload(id: number): P;
  /** How often an idle worker asks its queue for a job (0.5 s by default): a kind whose rows are rare may ask less. */
  pollSeconds?: number;
  idOf(payload: P): number;
  /** What the sweep does with a row whose worker stopped renewing its lease. */
  lost: { to: "PENDING" | "FAILED"; reason: string };
  /** What an unexpected error (a bug) does: the row runs again from its last checkpoint after a growing wait, up to `retries` times in a row; or it fails. */
  crash: { retries: number; backoffMs(config: Config): number } | "fail";
  /** More assignments of a claim (`t` is the row as it was), e.g. counting resumes. */
  claimSet?: Prisma.Sql;
  /** More assignments of every move to FAILED, from its reason (e.g. the row's last error). */
  failed?(reason: string): Prisma.Sql;
  /** CTEs every final move of an attempt writes besides the row, over `moved` (e.g. a collector's watermark when its run COMPLETED). */
  afterMove?: Prisma.Sql;
  /** What a unit writes besides the engine's columns. */
  unit(row: Row, unit: Unit): UnitWrites;
  /**
   * Runs one attempt from the committed row until it ends on its own, or
   * its signal stops it (then it returns what it has not committed yet, with
   * no ending). Running the same row again from the same committed state
   * must be harmless: a unit is committed at most once, but what the run
   * did before its commit (a request, a file) happens again after a crash.
   */
  run(row: Row, ctx: RunContext<Row, Unit>): Promise<Finish<Unit>>;
}
