import { createHash } from "node:crypto";
import { prisma } from "../db/client.js";
import type { SubjectKind } from "../generated/prisma/enums.js";

/** One advisory lock for the quota check, so two files stored at once cannot both pass it. */
const QUOTA_LOCK = 0x6d70_6631; // "mpf1"

/** Storing would pass FILES_MAX_BYTES: the attempt fails and is retried (space may be freed meanwhile). */
export class FilesQuotaError extends Error {
  override name = "FilesQuotaError";
}

/** Where a stored file is served (to holders of a token): its id, with an extension from its type ("image/webp": webp). */
export function fileUrl(id: string, contentType: string): string {
  const extension = /^[a-z]+\/([a-z0-9]+)/.exec(contentType.toLowerCase())?.[1] ?? "bin";
  return `/files/${id}.${extension}`;
}

/**
 * Stores a file a processor made for a queue item or job step (`owner`),
 * deleted with it (triggers on both tables). Its id comes from the owner and
 * `name`, so a retry of the same item writes the same file. Returns where
 * it is served. Refused with FilesQuotaError when the files stored would
 * pass `maxBytes`.
 */
export async function storeFile(owner: { kind: SubjectKind; id: number }, name: string, contentType: string, bytes: Buffer, maxBytes: number): Promise<string> {
  const id = createHash("sha256").update(`${owner.kind}:${owner.id}:${name}`).digest("hex").slice(0, 32);
  const data = new Uint8Array(bytes); // Prisma's Bytes wants a plain ArrayBuffer-backed array
  await prisma().$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${QUOTA_LOCK})`;
    const [{ stored }] = await tx.$queryRaw<{ stored: bigint }[]>`SELECT coalesce(sum(size), 0)::bigint AS stored FROM "StoredFile" WHERE id <> ${id}`;
    if (Number(stored) + bytes.length > maxBytes) {
      throw new FilesQuotaError(`Storing ${bytes.length} bytes would pass FILES_MAX_BYTES (${maxBytes}): ${stored} bytes of files are stored. Clean finished items (cleanQueue), or raise FILES_MAX_BYTES`);
    }
    await tx.storedFile.upsert({
      where: { id },
      create: { id, contentType, bytes: data, size: bytes.length, ownerKind: owner.kind, ownerId: owner.id },
      update: { contentType, bytes: data, size: bytes.length, createdAt: new Date() },
    });
  });
  return fileUrl(id, contentType);
}
