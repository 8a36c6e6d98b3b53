import { z } from "zod";
import { createToken, revokeToken } from "../auth/tokens.js";
import { prisma } from "../db/client.js";
import type { ApiToken } from "../generated/prisma/client.js";
import { builder } from "./builder.js";
import { pageSize } from "./forward-page.js";
import { requireRole } from "./authorize.js";
import { NotFoundError, parseId, parseInput } from "../engine/errors.js";

export const RoleEnum = builder.enumType("Role", {
  values: {
    VIEWER: { description: "Queries and subscriptions." },
    OPERATOR: { description: "VIEWER plus every mutation that runs or changes work." },
    ADMIN: { description: "OPERATOR plus cleanups and token management." },
  } as const,
});

export const ApiTokenRef = builder.prismaObject("ApiToken", {
  description: "A bearer token. Only a hash of its secret is stored.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    role: t.expose("role", { type: RoleEnum }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    lastUsedAt: t.expose("lastUsedAt", { type: "DateTime", nullable: true }),
    revokedAt: t.expose("revokedAt", { type: "DateTime", nullable: true }),
  }),
});

const CreatedApiTokenRef = builder.objectRef<{ apiToken: ApiToken; token: string }>("CreatedApiToken").implement({
    fields: (t) => ({
      apiToken: t.field({ type: ApiTokenRef, resolve: (created) => created.apiToken }),
      token: t.exposeString("token", { description: "The secret, shown once; only its hash is stored." }),
    }),
  });

builder.queryFields((t) => ({
  viewer: t.prismaField({
    type: "ApiToken",
    nullable: true,
    description: "The token this request authenticated with (null when auth is off).",
    resolve: (query, _root, _args, ctx) =>
      ctx.viewer.tokenId === null ? null : prisma().apiToken.findUnique({ ...query, where: { id: ctx.viewer.tokenId } }),
  }),
  apiTokens: t.prismaField({
    type: ["ApiToken"],
    description: "Tokens, revoked ones included, newest first, a page at a time: at most 500, those older than the token id `after` (ADMIN).",
    args: { first: t.arg.int({ defaultValue: 100 }), after: t.arg.id() },
    resolve: (query, _root, args, ctx) => {
      requireRole(ctx, "ADMIN");
      const take = pageSize(args.first, { default: 100, max: 500 });
      return prisma().apiToken.findMany({ ...query, orderBy: { id: "desc" }, take, ...(args.after != null ? { where: { id: { lt: parseId(args.after, "after") } } } : {}) });
    },
  }),
}));

const nameSchema = z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters");

builder.mutationFields((t) => ({
  createApiToken: t.field({
    type: CreatedApiTokenRef,
    description: "Creates a token (ADMIN). Its secret is in the answer and nowhere else.",
    args: { name: t.arg.string({ required: true }), role: t.arg({ type: RoleEnum, required: true }) },
    resolve: (_root, args, ctx) => {
      requireRole(ctx, "ADMIN");
      return createToken(parseInput(nameSchema, args.name, ["name"]), args.role);
    },
  }),
  revokeApiToken: t.prismaField({
    type: "ApiToken",
    description: "Revokes a token at once, for HTTP and WebSocket operations alike (ADMIN). Revoking twice is harmless.",
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      requireRole(ctx, "ADMIN");
      const id = parseId(args.id);
      if (!(await revokeToken(id))) throw new NotFoundError("ApiToken", id);
      return prisma().apiToken.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),
}));
