import { prisma } from "../../db/client.js";
import { recoverRunnable, type Recovery } from "../../engine/sweep.js";
import { QUEUE_ITEM_KIND } from "./kind.js";
import { queueRunnable } from "./runner.js";

/** Items RUNNING on a worker that died run again (or fail, on their last attempt); see recoverRunnable. */
export const queueRecovery: Recovery = {
  kind: QUEUE_ITEM_KIND,
  recover: async () => (await prisma().$transaction((tx) => recoverRunnable(tx, queueRunnable))).length,
};
