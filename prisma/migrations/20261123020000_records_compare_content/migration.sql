-- Records are compared by their jsonb content in the database, which is exact
-- and cheaper than hashing each one: the hash column is no longer read.
ALTER TABLE "ImportedRecord" DROP COLUMN "hash";
