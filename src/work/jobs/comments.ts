import { z } from "zod";
import type { Comment } from "../../generated/prisma/client.js";
import type { Viewer } from "../../auth/tokens.js";
import { hasRole } from "../../auth/tokens.js";
import { prisma } from "../../db/client.js";
import { ForbiddenError, NotFoundError, parseInput } from "../../engine/errors.js";
import { recordEvent } from "../../engine/events.js";
import { JOB_KIND } from "./kind.js";

export const commentBody = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(10_000, "at most 10,000 characters")
  .refine((body) => !body.includes("\u0000"), "must not contain the character U+0000");

/** A comment on a job by the viewer's token, with a LOG event on the job (so live clients see it). */
export async function addComment(jobId: number, rawBody: unknown, viewer: Viewer): Promise<Comment> {
  const body = parseInput(commentBody, rawBody, ["body"]);
  return prisma().$transaction(async (tx) => {
    const job = await tx.job.findUnique({ where: { id: jobId }, select: { id: true } });
    if (!job) throw new NotFoundError("Job", jobId);
    const comment = await tx.comment.create({ data: { jobId, body, author: viewer.name, authorTokenId: viewer.tokenId } });
    await recordEvent(tx, { kind: "LOG", subjectKind: JOB_KIND.subject, subjectId: jobId, level: "INFO", message: `${viewer.name} commented: ${body}` });
    return comment;
  });
}

/** Deletes a comment: its author's token may, and an ADMIN may; anyone else is FORBIDDEN. */
export async function deleteComment(id: number, viewer: Viewer): Promise<Comment> {
  return prisma().$transaction(async (tx) => {
    const [comment] = await tx.$queryRaw<Comment[]>`SELECT * FROM "Comment" WHERE id = ${id} FOR UPDATE`;
    if (!comment) throw new NotFoundError("Comment", id);
    const mine = viewer.tokenId !== null && comment.authorTokenId === viewer.tokenId;
    if (!mine && !hasRole(viewer, "ADMIN")) throw new ForbiddenError(`Comment ${id} is ${comment.author}'s: only its author or an ADMIN may delete it`);
    await tx.comment.delete({ where: { id } });
    await recordEvent(tx, { kind: "LOG", subjectKind: JOB_KIND.subject, subjectId: comment.jobId, level: "INFO", message: `${viewer.name} deleted comment ${id} by ${comment.author}` });
    return comment;
  });
}
