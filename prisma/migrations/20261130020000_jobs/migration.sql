-- Batch jobs of steps, and comments on jobs.
CREATE TABLE "Job" (
    "id" SERIAL NOT NULL,
    "kind" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "status" "Status" NOT NULL DEFAULT 'PENDING',
    "config" JSONB NOT NULL DEFAULT '{}',
    "concurrency" INTEGER NOT NULL DEFAULT 1,
    "maxRetries" INTEGER NOT NULL DEFAULT 2,
    "priority" INTEGER NOT NULL DEFAULT 0,
    "totalSteps" INTEGER NOT NULL,
    "completedSteps" INTEGER NOT NULL DEFAULT 0,
    "failedSteps" INTEGER NOT NULL DEFAULT 0,
    "cancelledSteps" INTEGER NOT NULL DEFAULT 0,
    "runningSteps" INTEGER NOT NULL DEFAULT 0,
    "stepSeconds" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "createdBy" TEXT,
    "leaseOwner" TEXT,
    "leaseAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "completedAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Job_pkey" PRIMARY KEY ("id"),
    -- A job's concurrency as an invariant of every committed state: claims racing for the same free
    -- slots read the count unlocked, and the one that would go over fails here and claims again.
    CONSTRAINT "Job_running_within_concurrency" CHECK ("runningSteps" <= "concurrency")
);
CREATE INDEX "Job_status_idx" ON "Job"("status");
CREATE INDEX "Job_kind_status_idx" ON "Job"("kind", "status");

CREATE TABLE "JobStep" (
    "id" SERIAL NOT NULL,
    "jobId" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "number" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "input" JSONB NOT NULL,
    "status" "Status" NOT NULL DEFAULT 'PENDING',
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

    CONSTRAINT "JobStep_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "JobStep_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "Job"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "JobStep_jobId_number_key" ON "JobStep"("jobId", "number");
CREATE INDEX "JobStep_jobId_status_number_idx" ON "JobStep"("jobId", "status", "number");
-- The claim: a job's claimable steps, in order.
CREATE INDEX "JobStep_claim_idx" ON "JobStep"("jobId", "number") WHERE "status" IN ('PENDING', 'WAITING');
-- The stale-lease sweep.
CREATE INDEX "JobStep_running_idx" ON "JobStep"("leaseAt") WHERE "status" = 'RUNNING';
-- jobStats: steps ended in the last 24 hours, per kind.
CREATE INDEX "JobStep_completedAt_idx" ON "JobStep"("completedAt") WHERE "completedAt" IS NOT NULL;
ALTER TABLE "JobStep" SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000);

CREATE TABLE "Comment" (
    "id" SERIAL NOT NULL,
    "jobId" INTEGER NOT NULL,
    "author" TEXT NOT NULL,
    "authorTokenId" INTEGER,
    "body" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Comment_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "Comment_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "Job"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "Comment_jobId_id_idx" ON "Comment"("jobId", "id");

-- A job's step counters are derived from its steps' rows in the statement that changes them,
-- whichever statement that is (a worker ending steps, a claim, a cancel, a retry, the crash sweep),
-- so they commit with the steps and are exact at every moment anyone reads them. Statement-level:
-- a batch of 500 step ends costs one UPDATE per job, not 500. Jobs are locked in id order, the
-- order every transaction that changes steps locks them in.
CREATE FUNCTION "JobStep_count"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM "Job" WHERE id IN (
    SELECT n."jobId" FROM new_steps n JOIN old_steps o ON o.id = n.id WHERE n.status IS DISTINCT FROM o.status
  ) ORDER BY id FOR UPDATE;
  -- A claim reads its jobs unlocked: one that read a job as RUNNING just before it was cancelled
  -- must not start its steps. It fails here (the job's row is locked and read as committed now)
  -- and its worker claims again.
  IF EXISTS (
    SELECT 1 FROM new_steps n JOIN old_steps o ON o.id = n.id JOIN "Job" j ON j.id = n."jobId"
    WHERE n.status = 'RUNNING' AND o.status <> 'RUNNING' AND j.status <> 'RUNNING'
  ) THEN
    RAISE EXCEPTION 'JobStep_claimed_for_a_stopped_job: a step was claimed for a job that is no longer RUNNING; claim again'
      USING ERRCODE = 'serialization_failure';
  END IF;
  UPDATE "Job" j SET
    "completedSteps" = j."completedSteps" + d.completed,
    "failedSteps" = j."failedSteps" + d.failed,
    "cancelledSteps" = j."cancelledSteps" + d.cancelled,
    "runningSteps" = j."runningSteps" + d.running,
    "stepSeconds" = j."stepSeconds" + d.seconds
  FROM (
    SELECT n."jobId",
      sum((n.status = 'COMPLETED')::int - (o.status = 'COMPLETED')::int) AS completed,
      sum((n.status = 'FAILED')::int - (o.status = 'FAILED')::int) AS failed,
      sum((n.status = 'CANCELLED')::int - (o.status = 'CANCELLED')::int) AS cancelled,
      sum((n.status = 'RUNNING')::int - (o.status = 'RUNNING')::int) AS running,
      sum(CASE WHEN n.status IN ('COMPLETED', 'FAILED') AND n."startedAt" IS NOT NULL
        THEN extract(epoch FROM n."completedAt" - n."startedAt") ELSE 0 END) AS seconds
    FROM new_steps n JOIN old_steps o ON o.id = n.id
    WHERE n.status IS DISTINCT FROM o.status
    GROUP BY n."jobId"
  ) d
  WHERE j.id = d."jobId";
  RETURN NULL;
END $$;

-- (PostgreSQL allows no column list with transition tables: an update that changes no status, a
-- lease renewal, finds no rows to count.)
CREATE TRIGGER "JobStep_count" AFTER UPDATE ON "JobStep"
  REFERENCING OLD TABLE AS old_steps NEW TABLE AS new_steps
  FOR EACH STATEMENT EXECUTE FUNCTION "JobStep_count"();
