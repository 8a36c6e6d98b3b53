-- Persistent priority queues (one per processor), their switches, and the files processors make.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE "QueueItem" (
    "id" SERIAL NOT NULL,
    "queue" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "label" TEXT,
    "payload" JSONB NOT NULL,
    "status" "Status" NOT NULL DEFAULT 'PENDING',
    "priority" INTEGER NOT NULL DEFAULT 0,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "maxAttempts" INTEGER NOT NULL,
    "runAfter" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "result" JSONB,
    "error" TEXT,
    "cancelRequested" BOOLEAN NOT NULL DEFAULT false,
    "leaseOwner" TEXT,
    "leaseAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "completedAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "QueueItem_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "QueueItem_queue_status_idx" ON "QueueItem"("queue", "status");
-- Dedupe: a key is queued once while it is not finished; two concurrent enqueues cannot both add it.
CREATE UNIQUE INDEX "QueueItem_queue_key_active_key" ON "QueueItem"("queue", "key") WHERE "status" IN ('PENDING', 'RUNNING', 'WAITING');
-- The claim: a queue's claimable items, highest priority first, then in enqueue order.
CREATE INDEX "QueueItem_claim_idx" ON "QueueItem"("queue", "priority" DESC, "id") WHERE "status" IN ('PENDING', 'WAITING');
-- queueItems(payload: …): JSON containment answered by an index.
CREATE INDEX "QueueItem_payload_idx" ON "QueueItem" USING GIN ("payload" jsonb_path_ops);
-- queueItems(search: …): substrings of key, label and error answered by a trigram index.
CREATE INDEX "QueueItem_search_idx" ON "QueueItem" USING GIN ((("key" || ' ' || COALESCE("label", '') || ' ' || COALESCE("error", ''))) gin_trgm_ops);
-- The stale-lease sweep.
CREATE INDEX "QueueItem_running_idx" ON "QueueItem"("leaseAt") WHERE "status" = 'RUNNING';

CREATE TABLE "QueueSetting" (
    "queue" TEXT NOT NULL,
    "paused" BOOLEAN NOT NULL DEFAULT false,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "QueueSetting_pkey" PRIMARY KEY ("queue")
);

CREATE TABLE "StoredFile" (
    "id" TEXT NOT NULL,
    "contentType" TEXT NOT NULL,
    "bytes" BYTEA NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "StoredFile_pkey" PRIMARY KEY ("id")
);

-- Event retention deletes by age, kind and subject.
CREATE INDEX "Event_at_idx" ON "Event"("at");

-- A queue table churns: every item is inserted once and updated at least twice. Vacuum and
-- analyze it at 2 % of changes rather than autovacuum's 10–20 %, so its dead rows are cleared
-- and the claim's plan (the claim index, stopping at the batch) rests on current statistics.
ALTER TABLE "QueueItem" SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000);
