import { z } from "zod";
import { prisma } from "../db/client.js";
import { builder } from "./builder.js";
import { parseInput } from "../engine/errors.js";

builder.prismaObject("ImportedRecord", {
  description: "A record that an import or collector wrote, keyed by (dataset, externalId).",
  fields: (t) => ({
    id: t.id({ resolve: (record) => record.id.toString() }),
    dataset: t.exposeString("dataset"),
    externalId: t.exposeString("externalId"),
    data: t.expose("data", { type: "JSON" }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

const datasetSchema = z.string().min(1).max(100);

builder.queryField("records", (t) =>
  t.prismaConnection(
    {
      type: "ImportedRecord",
      cursor: "id",
      defaultSize: 50,
      maxSize: 1000,
      args: { dataset: t.arg.string({ required: true }) },
      totalCount: (_parent, args) => prisma().importedRecord.count({ where: { dataset: args.dataset } }),
      resolve: (query, _root, args) =>
        prisma().importedRecord.findMany({ ...query, where: { dataset: parseInput(datasetSchema, args.dataset, ["dataset"]) }, orderBy: { id: "asc" } }),
    },
    { name: "ImportedRecordConnection" },
    { name: "ImportedRecordEdge" },
  ),
);
