-- Pages that failed in a row, committed with the checkpoint: MAX_CONSECUTIVE_PAGE_FAILURES
-- of them end an import, across restarts and rate-limit waits too.
ALTER TABLE "Import" ADD COLUMN "failureStreak" INTEGER NOT NULL DEFAULT 0;
