-- Cheaper writes of job steps, which every claim and every end makes.
--
-- The step counters' trigger in one pass: what a statement did to each job's steps is added up
-- once, and each job's row is then updated in id order (the order every transaction that changes
-- steps locks jobs in). The UPDATE locks the row and reads it as committed now, so its RETURNING
-- status is what the check of a claim against a stopped job needs: no separate lock or re-read.
-- It was three passes over the transition tables (lock, check, update), and cost more than the
-- statement that fired it.
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
        THEN extract(epoch FROM n."completedAt" - n."startedAt") ELSE 0 END) AS seconds
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
    WHERE id = d.id
    RETURNING status INTO job_status;
    -- A claim reads its jobs unlocked: one that read a job as RUNNING just before it was cancelled
    -- must not start its steps. It fails here and its worker claims again.
    IF d.started > 0 AND job_status <> 'RUNNING' THEN
      RAISE EXCEPTION 'JobStep_claimed_for_a_stopped_job: a step was claimed for a job that is no longer RUNNING; claim again'
        USING ERRCODE = 'serialization_failure';
    END IF;
  END LOOP;
  RETURN NULL;
END $$;

-- Every step row is written at least twice (claimed, ended) and each write of a status maintains
-- every index on the table; this one served only reads of one job's steps by status, which the
-- (jobId, number) index serves as well for a job's at most 10,000 steps.
DROP INDEX "JobStep_jobId_status_number_idx";
