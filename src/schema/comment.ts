import { prisma } from "../db/client.js";
import { parseId } from "../engine/errors.js";
import { addComment, deleteComment } from "../work/jobs/comments.js";
import { builder } from "./builder.js";

export const CommentRef = builder.prismaObject("Comment", {
  description: "A note on a job, by the token that wrote it.",
  fields: (t) => ({
    id: t.exposeID("id"),
    jobId: t.exposeID("jobId"),
    author: t.exposeString("author", { description: "The name of the token that wrote it." }),
    body: t.exposeString("body"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.mutationFields((t) => ({
  addComment: t.prismaField({
    type: "Comment",
    description: "Adds a comment (1 to 10,000 characters, trimmed) to a job, by this token; also a LOG event on the job.",
    args: { jobId: t.arg.id({ required: true }), body: t.arg.string({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const comment = await addComment(parseId(args.jobId, "jobId"), args.body, ctx.viewer);
      return prisma().comment.findUniqueOrThrow({ ...query, where: { id: comment.id } });
    },
  }),
  deleteComment: t.field({
    type: CommentRef,
    description: "Deletes a comment: its author's token or an ADMIN. Returns it as it was.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => deleteComment(parseId(args.id), ctx.viewer),
  }),
}));
