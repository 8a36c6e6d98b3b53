import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { databaseUp, reportDatabaseError } from "../db/availability.js";
import { prisma } from "../db/client.js";
import type { Logger } from "../logger.js";
import { VERSION } from "../version.js";

/**
 * A beat every 10 s and a 30 s window: a worker is counted alive through two
 * missed beats (a long GC pause, a slow database), and gone within 30 s of a
 * crash, which is when its work may be taken over.
 */
const BEAT_MS = 10_000;
export const ALIVE_WINDOW_MS = 30_000;
/** Rows of processes that never said goodbye (SIGKILL) are dropped after a day. */
const FORGET_AFTER_MS = 24 * 3600_000;

export type ProcessRole = "all" | "api" | "worker";

/** Workers (and all-in-one processes) seen in the last 30 seconds. */
export function countLiveWorkers(): Promise<number> {
  return prisma().processHeartbeat.count({
    where: { role: { in: ["worker", "all"] }, lastSeenAt: { gt: new Date(Date.now() - ALIVE_WINDOW_MS) } },
  });
}

/** Announces this process in ProcessHeartbeat until stopped. */
export async function startHeartbeat(role: ProcessRole, log: Logger): Promise<{ id: string; stop(): Promise<void> }> {
  const id = randomUUID();
  const data = { role, host: hostname(), pid: process.pid, version: VERSION };
  await prisma().processHeartbeat.create({ data: { id, ...data } });
  const beat = async () => {
    const now = Date.now();
    await prisma().processHeartbeat.upsert({
      where: { id },
      create: { id, ...data },
      update: { lastSeenAt: new Date(now) },
    });
    await prisma().processHeartbeat.deleteMany({ where: { lastSeenAt: { lt: new Date(now - FORGET_AFTER_MS) } } });
  };
  const timer = setInterval(() => {
    if (!databaseUp()) return;
    beat().catch((error) => reportDatabaseError(error, "heartbeat") || log.warn({ err: error }, "heartbeat failed; retrying at the next beat"));
  }, BEAT_MS);
  timer.unref();
  return {
    id,
    async stop() {
      clearInterval(timer);
      await prisma().processHeartbeat.deleteMany({ where: { id } });
    },
  };
}
