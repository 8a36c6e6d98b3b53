-- Files go with the work that made them: each belongs to a queue item or a job step, and is deleted with it by
-- whatever deletes it (cleanQueue, retention, a job's cascade), in the same statement, by the triggers below.
-- "size" is kept so the quota (FILES_MAX_BYTES) is a sum over a small column, not over the files' bytes.
ALTER TABLE "StoredFile" ADD COLUMN "ownerKind" "SubjectKind",
  ADD COLUMN "ownerId" INTEGER,
  ADD COLUMN "size" INTEGER NOT NULL DEFAULT 0;

UPDATE "StoredFile" SET "size" = octet_length("bytes");

-- Files made before this had no owner: the item or step whose result names one owns it (the newest, for a file
-- two items made). A file no item names any more was left behind by a cleanup, and goes now.
UPDATE "StoredFile" f SET "ownerKind" = 'QUEUE_ITEM', "ownerId" = q.id
  FROM (SELECT DISTINCT ON (result->>'url') id, result->>'url' AS url FROM "QueueItem" WHERE result ? 'url' ORDER BY result->>'url', id DESC) q
  WHERE q.url = '/files/' || f.id || '.webp';
UPDATE "StoredFile" f SET "ownerKind" = 'JOB_STEP', "ownerId" = s.id
  FROM (SELECT DISTINCT ON (result->>'url') id, result->>'url' AS url FROM "JobStep" WHERE result ? 'url' ORDER BY result->>'url', id DESC) s
  WHERE f."ownerId" IS NULL AND s.url = '/files/' || f.id || '.webp';
DELETE FROM "StoredFile" WHERE "ownerId" IS NULL;

ALTER TABLE "StoredFile" ALTER COLUMN "ownerKind" SET NOT NULL, ALTER COLUMN "ownerId" SET NOT NULL;
CREATE INDEX "StoredFile_owner_idx" ON "StoredFile" ("ownerKind", "ownerId");

CREATE FUNCTION "StoredFile_go_with_owner"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "StoredFile" f USING gone WHERE f."ownerKind" = TG_ARGV[0]::"SubjectKind" AND f."ownerId" = gone.id;
  RETURN NULL;
END $$;
CREATE TRIGGER "QueueItem_files" AFTER DELETE ON "QueueItem" REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION "StoredFile_go_with_owner"('QUEUE_ITEM');
CREATE TRIGGER "JobStep_files" AFTER DELETE ON "JobStep" REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION "StoredFile_go_with_owner"('JOB_STEP');
