-- Collectors: one row per collector (its schedule, and what its last successful run left for the next to plan
-- from), and one row per run, a checkpointed unit of work like an import.
CREATE TABLE "Collector" (
  "name" TEXT PRIMARY KEY,
  "schedule" TEXT,
  "watermark" JSONB,
  -- When each window (a year) was last fetched by a successful run: {"2024": "2026-11-28T10:00:00.000"}.
  "windows" JSONB NOT NULL DEFAULT '{}',
  "lastSuccessAt" TIMESTAMP(3),
  "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE "CollectorRun" (
  "id" SERIAL PRIMARY KEY,
  "collector" TEXT NOT NULL REFERENCES "Collector"("name") ON DELETE CASCADE,
  "status" "Status" NOT NULL DEFAULT 'PENDING',
  "trigger" TEXT NOT NULL,
  "fullRefresh" BOOLEAN NOT NULL DEFAULT false,
  "maxAgeDays" INTEGER,
  "window" JSONB,
  "watermark" JSONB,
  "recordsProcessed" INTEGER NOT NULL DEFAULT 0,
  "recordsInserted" INTEGER NOT NULL DEFAULT 0,
  "recordsUpdated" INTEGER NOT NULL DEFAULT 0,
  "error" TEXT,
  "checkpointAt" TIMESTAMP(3),
  "checkpointSeq" INTEGER NOT NULL DEFAULT 0,
  "checkpointBy" TEXT,
  "resumeAt" TIMESTAMP(3),
  "crashCount" INTEGER NOT NULL DEFAULT 0,
  "pauseRequested" BOOLEAN NOT NULL DEFAULT false,
  "cancelRequested" BOOLEAN NOT NULL DEFAULT false,
  "leaseOwner" TEXT,
  "leaseAt" TIMESTAMP(3),
  "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "startedAt" TIMESTAMP(3),
  "updatedAt" TIMESTAMP(3) NOT NULL,
  "completedAt" TIMESTAMP(3)
);
-- One run at a time per collector, decided by the database: a second start (a click, a cron tick, another
-- process) conflicts here, however the calls race.
CREATE UNIQUE INDEX "CollectorRun_one_active" ON "CollectorRun" ("collector") WHERE "status" IN ('PENDING', 'RUNNING', 'WAITING');
CREATE INDEX "CollectorRun_collector_id_idx" ON "CollectorRun" ("collector", "id");
CREATE INDEX "CollectorRun_status_idx" ON "CollectorRun" ("status");
CREATE INDEX "CollectorRun_running_idx" ON "CollectorRun" ("leaseAt") WHERE "status" = 'RUNNING';
