import type { Import } from "../generated/prisma/client.js";
import { prisma } from "../db/client.js";
import { builder } from "./builder.js";
import { pageSize } from "./forward-page.js";
import { StatusEnum } from "./status.js";

interface Summary {
  total: number;
  byStatus: { status: Import["status"]; count: number }[];
  successRate: number | null;
  itemsNew: number;
  itemsUpdated: number;
}

const StatusCountRef = builder.objectRef<Summary["byStatus"][number]>("StatusCount").implement({
  fields: (t) => ({ status: t.expose("status", { type: StatusEnum }), count: t.exposeInt("count") }),
});

const ImportSummaryRef = builder.objectRef<Summary>("ImportSummary").implement({
  fields: (t) => ({
    total: t.exposeInt("total"),
    byStatus: t.field({ type: [StatusCountRef], resolve: (summary) => summary.byStatus }),
    successRate: t.exposeFloat("successRate", { nullable: true, description: "completed / (completed + failed), null when neither." }),
    itemsNew: t.exposeInt("itemsNew"),
    itemsUpdated: t.exposeInt("itemsUpdated"),
    recent: t.prismaField({
      type: ["Import"],
      args: { first: t.arg.int({ defaultValue: 10 }) },
      resolve: (query, _summary, args) =>
        prisma().import.findMany({ ...query, orderBy: { id: "desc" }, take: pageSize(args.first, { default: 10, max: 100 }) }),
    }),
  }),
});

builder.queryFields((t) => ({
  importSummary: t.field({
    type: ImportSummaryRef,
    resolve: async () => {
      const groups = await prisma().import.groupBy({ by: ["status"], _count: { _all: true }, _sum: { itemsNew: true, itemsUpdated: true } });
      const count = (status: string) => groups.find((group) => group.status === status)?._count._all ?? 0;
      const finished = count("COMPLETED") + count("FAILED");
      return {
        total: groups.reduce((sum, group) => sum + group._count._all, 0),
        byStatus: groups.map((group) => ({ status: group.status, count: group._count._all })),
        successRate: finished ? count("COMPLETED") / finished : null,
        itemsNew: groups.reduce((sum, group) => sum + (group._sum.itemsNew ?? 0), 0),
        itemsUpdated: groups.reduce((sum, group) => sum + (group._sum.itemsUpdated ?? 0), 0),
      };
    },
  }),
}));
