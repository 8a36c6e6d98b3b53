-- The engine, whole: checkpoints that cannot count twice, and claim races told apart by their SQLSTATE.

-- Every checkpointed row carries the sequence of its checkpoints and the attempt that wrote the last one.
-- A checkpoint statement compares and advances the sequence in the same statement, so one sent again after
-- its answer was lost is recognised (the sequence is one on, written by the same attempt) and writes nothing.
ALTER TABLE "Import" ADD COLUMN "checkpointSeq" INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN "checkpointBy" TEXT;

-- The step counters' trigger, as before, but the seconds of a step that leaves COMPLETED or FAILED (a retry) are taken
-- back, so "stepSeconds" is the sum over the steps ended now, each counted once; and a claim that loses a race fails
-- with a SQLSTATE of its own,
-- which the worker recognises (it claims again) without reading the message: MPJ01 when the claim would run
-- more steps of a job than its concurrency (the UPDATE's WHERE checks it on the row as committed now, before
-- the "Job_running_within_concurrency" CHECK, which stays as the last word), MPJ02 when the job is no longer
-- RUNNING (a cancel committed after the claim read it).
CREATE OR REPLACE FUNCTION "JobStep_count"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  d record;
  job_status "Status";
BEGIN
  FOR d IN
    SELECT n."jobId" AS id,
      count(*) FILTER (WHERE n.status = 'RUNNING') AS started,
      sum((n.status = 'COMPLETED')::int - (o.status = 'COMPLETED')::int) AS completed,
      sum((n.status = 'FAILED')::int - (o.status = 'FAILED')::int) AS failed,
      sum((n.status = 'CANCELLED')::int - (o.status = 'CANCELLED')::int) AS cancelled,
      sum((n.status = 'RUNNING')::int - (o.status = 'RUNNING')::int) AS running,
      sum(CASE WHEN n.status IN ('COMPLETED', 'FAILED') AND n."startedAt" IS NOT NULL
        THEN extract(epoch FROM n."completedAt" - n."startedAt") ELSE 0 END)
        - sum(CASE WHEN o.status IN ('COMPLETED', 'FAILED') AND o."startedAt" IS NOT NULL
        THEN extract(epoch FROM o."completedAt" - o."startedAt") ELSE 0 END) AS seconds
    FROM new_steps n JOIN old_steps o ON o.id = n.id
    WHERE n.status IS DISTINCT FROM o.status
    GROUP BY n."jobId"
    ORDER BY n."jobId"
  LOOP
    UPDATE "Job" SET
      "completedSteps" = "completedSteps" + d.completed,
      "failedSteps" = "failedSteps" + d.failed,
      "cancelledSteps" = "cancelledSteps" + d.cancelled,
      "runningSteps" = "runningSteps" + d.running,
      "stepSeconds" = "stepSeconds" + d.seconds
    WHERE id = d.id AND (d.running <= 0 OR "runningSteps" + d.running <= concurrency)
    RETURNING status INTO job_status;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'Job % would run more steps at once than its concurrency; claim again', d.id USING ERRCODE = 'MPJ01';
    END IF;
    IF d.started > 0 AND job_status <> 'RUNNING' THEN
      RAISE EXCEPTION 'A step was claimed for job %, which is no longer RUNNING; claim again', d.id USING ERRCODE = 'MPJ02';
    END IF;
  END LOOP;
  RETURN NULL;
END $$;
