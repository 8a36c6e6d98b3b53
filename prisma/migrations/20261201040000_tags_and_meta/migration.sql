-- Tags and metadata on queue items and jobs, beside their payloads and never seen by their processors: what a team
-- files work under. Tags are found through a GIN index (`tags @> ARRAY[…]`), metadata by containment (`meta @> …`).
ALTER TABLE "QueueItem" ADD COLUMN "tags" TEXT[] NOT NULL DEFAULT '{}', ADD COLUMN "meta" JSONB;
ALTER TABLE "Job" ADD COLUMN "tags" TEXT[] NOT NULL DEFAULT '{}', ADD COLUMN "meta" JSONB;
CREATE INDEX "QueueItem_tags_idx" ON "QueueItem" USING GIN ("tags");
CREATE INDEX "QueueItem_meta_idx" ON "QueueItem" USING GIN ("meta" jsonb_path_ops);
CREATE INDEX "Job_tags_idx" ON "Job" USING GIN ("tags");
CREATE INDEX "Job_meta_idx" ON "Job" USING GIN ("meta" jsonb_path_ops);
