import { z } from "zod";
import type { Comment } from "../../generated/prisma/client.js";
import type { Viewer } from "../../auth/tokens.js";
import { hasRole } from "../../auth/tokens.js";
import { prisma } from "../../db/client.js";
import { ForbiddenError, NotFoundError, parseInput } from "../../engine/errors.js";
import { recordEvent } from "../../engine/events.js";
import { plainText } from "../../engine/plain-text.js";
import { JOB_KIND } from "./kind.js";

/** A comment as it is kept and shown: controls and bidirectional overrides dropped as from a page title (line breaks stay). */
export const commentBody = z
  .string()
  .transform((body) => plainText(body))
  .pipe(z.string().min(1, "must not be empty").max(10_000, "at most 10,000 characters"));

/**
 * A comment on a job by the viewer's token, with a LOG event on the job so
 * live clients see one was written. The event names the comment, not its
 * text: a deleted comment must not stay readable in the job's log.
 */
export async function addComment(jobId: number, rawBody: unknown, viewer: Viewer): Promise<Comment> {
  const body = parseInput(commentBody, rawBody, ["body"]);
  return prisma().$transaction(async (tx) => {
    const job = await tx.job.findUnique({ where: { id: jobId }, select: { id: true } });
    if (!job) throw new NotFoundError("Job", jobId);
    const comment = await tx.comment.create({ data: { jobId, body, author: viewer.name, authorTokenId: viewer.tokenId } });
    await recordEvent(tx, { kind: "LOG", subjectKind: JOB_KIND.subject, subjectId: jobId, level: "INFO", message: `${viewer.name} commented (comment ${comment.id})` });
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
    // Logs written before comments were named by id held the text itself.
    await tx.event.deleteMany({ where: { subjectKind: JOB_KIND.subject, subjectId: comment.jobId, kind: "LOG", payload: { path: ["message"], equals: `${comment.author} commented: ${comment.body}` } } });
    await recordEvent(tx, { kind: "LOG", subjectKind: JOB_KIND.subject, subjectId: comment.jobId, level: "INFO", message: `${viewer.name} deleted comment ${id} by ${comment.author}` });
    return comment;
  });
}
