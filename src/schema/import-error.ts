import { builder } from "./builder.js";

/** A page (or item) an import could not take, as `Import.errors` lists it. */
export const ImportErrorRef = builder.prismaObject("ImportError", {
  fields: (t) => ({
    id: t.exposeID("id"),
    page: t.exposeInt("page", { nullable: true }),
    path: t.exposeStringList("path", { nullable: true }),
    httpStatus: t.exposeInt("httpStatus", { nullable: true }),
    message: t.exposeString("message"),
    attempts: t.exposeInt("attempts"),
    at: t.expose("at", { type: "DateTime" }),
  }),
});
