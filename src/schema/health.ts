import { prisma } from "../db/client.js";
import { countLiveWorkers } from "../jobs/heartbeat.js";
import { VERSION } from "../version.js";
import { builder } from "./builder.js";

interface Health {
  ok: boolean;
  database: boolean;
  workers: number;
  version: string;
}

const HealthRef = builder.objectRef<Health>("Health").implement({
  fields: (t) => ({
    ok: t.exposeBoolean("ok", { description: "The database answers and at least one worker is alive." }),
    database: t.exposeBoolean("database"),
    workers: t.exposeInt("workers", { description: "Worker processes seen in the last 30 seconds." }),
    version: t.exposeString("version"),
  }),
});

builder.queryField("health", (t) =>
  t.field({
    type: HealthRef,
    resolve: async () => {
      const database = await prisma()
        .$queryRaw`SELECT 1`.then(() => true)
        .catch(() => false);
      const workers = database ? await countLiveWorkers() : 0;
      return { ok: database && workers > 0, database, workers, version: VERSION };
    },
  }),
);
