-- CreateTable
CREATE TABLE "Import" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "dataset" TEXT NOT NULL,
    "config" JSONB NOT NULL,
    "configKey" TEXT NOT NULL,
    "status" "Status" NOT NULL DEFAULT 'PENDING',
    "checkpointEvery" INTEGER NOT NULL,
    "maxPages" INTEGER,
    "cursor" JSONB,
    "checkpointPath" JSONB,
    "checkpointAt" TIMESTAMP(3),
    "pagesDone" INTEGER NOT NULL DEFAULT 0,
    "totalPages" INTEGER,
    "itemsTotal" INTEGER,
    "itemsProcessed" INTEGER NOT NULL DEFAULT 0,
    "itemsNew" INTEGER NOT NULL DEFAULT 0,
    "itemsUpdated" INTEGER NOT NULL DEFAULT 0,
    "itemsUnchanged" INTEGER NOT NULL DEFAULT 0,
    "errorCount" INTEGER NOT NULL DEFAULT 0,
    "lastError" TEXT,
    "resumeAt" TIMESTAMP(3),
    "waitingOn" TEXT,
    "resumeCount" INTEGER NOT NULL DEFAULT 0,
    "activeSeconds" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "crashCount" INTEGER NOT NULL DEFAULT 0,
    "pauseRequested" BOOLEAN NOT NULL DEFAULT false,
    "cancelRequested" BOOLEAN NOT NULL DEFAULT false,
    "leaseOwner" TEXT,
    "leaseAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "completedAt" TIMESTAMP(3),

    CONSTRAINT "Import_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ImportError" (
    "id" SERIAL NOT NULL,
    "importId" INTEGER NOT NULL,
    "page" INTEGER,
    "path" TEXT[],
    "httpStatus" INTEGER,
    "message" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ImportError_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ImportedRecord" (
    "id" BIGSERIAL NOT NULL,
    "dataset" TEXT NOT NULL,
    "externalId" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "hash" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ImportedRecord_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "UpstreamCooldown" (
    "key" TEXT NOT NULL,
    "origin" TEXT NOT NULL,
    "until" TIMESTAMP(3) NOT NULL,
    "reason" TEXT NOT NULL,

    CONSTRAINT "UpstreamCooldown_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE INDEX "Import_status_idx" ON "Import"("status");

-- CreateIndex
CREATE INDEX "Import_configKey_idx" ON "Import"("configKey");

-- CreateIndex
CREATE INDEX "ImportError_importId_id_idx" ON "ImportError"("importId", "id");

-- CreateIndex
CREATE UNIQUE INDEX "ImportedRecord_dataset_externalId_key" ON "ImportedRecord"("dataset", "externalId");

-- AddForeignKey
ALTER TABLE "ImportError" ADD CONSTRAINT "ImportError_importId_fkey" FOREIGN KEY ("importId") REFERENCES "Import"("id") ON DELETE CASCADE ON UPDATE CASCADE;
