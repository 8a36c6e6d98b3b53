import { databaseUp, reportDatabaseError } from "../db/availability.js";
import { prisma } from "../db/client.js";
import type { Logger } from "../logger.js";
import type { WorkKind } from "./kind.js";
import { LEASE_RENEW_MS, leaseKey, renewLeases, type LeaseFlags } from "./lease.js";

/** One lease a worker holds, and what it is told at each renewal. */
export interface Hold {
  readonly kind: WorkKind;
  readonly id: number;
  readonly owner: string;
  /** The row is no longer RUNNING under this owner: nothing of this attempt may be written. */
  lost(): void;
  /** The stop flags as this renewal read them. */
  flags(flags: LeaseFlags): void;
}

export interface LeaseKeeper {
  /** Renews the lease from now until it is released. */
  hold(hold: Hold): void;
  release(hold: Hold): void;
  stop(): void;
}

/**
 * The one renewal loop of a worker process, for every kind of work it
 * holds: each second, one statement per kind renews the (id, owner) pairs
 * held then and reads their flags. Each answer is judged against the pairs
 * it was sent, not against what is held when it arrives: a row claimed
 * while a renewal was in flight is not in its answer, and must not be taken
 * for lost. A kind whose last renewal has not answered yet is skipped, so a
 * slow database is not sent a second. While the database is away nothing
 * is renewed and nothing is judged (nobody can take the work meanwhile).
 */
export function createLeaseKeeper(log: Logger): LeaseKeeper {
  const held = new Map<WorkKind, Set<Hold>>();
  const inFlight = new Set<WorkKind>();

  const renew = (kind: WorkKind, holds: Set<Hold>) => {
    const sent = [...holds];
    inFlight.add(kind);
    renewLeases(prisma(), kind, sent)
      .then(
        (answer) => {
          for (const hold of sent) {
            if (!holds.has(hold)) continue; // released meanwhile: its attempt has ended
            const flags = answer.get(leaseKey(hold.id, hold.owner));
            if (flags) hold.flags(flags);
            else hold.lost();
          }
        },
        (error: unknown) => reportDatabaseError(error, `${kind.subject} leases`) || log.warn({ err: error, kind: kind.subject }, "could not renew leases; trying again"),
      )
      .finally(() => inFlight.delete(kind));
  };

  const timer = setInterval(() => {
    if (!databaseUp()) return;
    for (const [kind, holds] of held) if (holds.size > 0 && !inFlight.has(kind)) renew(kind, holds);
  }, LEASE_RENEW_MS);
  timer.unref();

  return {
    hold(hold) {
      let holds = held.get(hold.kind);
      if (!holds) held.set(hold.kind, (holds = new Set()));
      holds.add(hold);
    },
    release(hold) {
      held.get(hold.kind)?.delete(hold);
    },
    stop: () => clearInterval(timer),
  };
}
