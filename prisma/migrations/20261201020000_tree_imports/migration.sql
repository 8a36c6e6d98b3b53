-- Tree imports: one row per node of an import's tree, unique by (import, parent, key), and per-level counts.
-- Both are written only by the import's checkpoint statement (the lease holder's), which moves the counts by
-- what it inserted and finished, so a level listed again after a retry updates rows and never adds.
CREATE TABLE "ImportNode" (
  "id" BIGSERIAL PRIMARY KEY,
  "importId" INTEGER NOT NULL REFERENCES "Import"("id") ON DELETE CASCADE,
  "parentId" BIGINT,
  "level" INTEGER NOT NULL,
  "key" TEXT NOT NULL,
  "label" TEXT,
  "ord" INTEGER NOT NULL,
  "cursor" JSONB,
  "listed" BOOLEAN NOT NULL DEFAULT false,
  "done" BOOLEAN NOT NULL DEFAULT false,
  "childrenTotal" INTEGER,
  "childrenFound" INTEGER NOT NULL DEFAULT 0,
  "effects" JSONB
);
CREATE UNIQUE INDEX "ImportNode_importId_parentId_key_key" ON "ImportNode" ("importId", "parentId", "key");
-- One root per import (a NULL parent is not caught by the unique index above).
CREATE UNIQUE INDEX "ImportNode_root" ON "ImportNode" ("importId") WHERE "parentId" IS NULL;
-- The walk's one question, "the first child not done": only unfinished nodes are indexed.
CREATE INDEX "ImportNode_open" ON "ImportNode" ("parentId", "ord") WHERE NOT "done";

CREATE TABLE "ImportLevel" (
  "importId" INTEGER NOT NULL REFERENCES "Import"("id") ON DELETE CASCADE,
  "level" INTEGER NOT NULL,
  "discovered" INTEGER NOT NULL DEFAULT 0,
  "done" INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY ("importId", "level")
);
