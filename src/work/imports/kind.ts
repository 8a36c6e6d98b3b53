import { Prisma } from "../../generated/prisma/client.js";
import type { WorkKind } from "../../engine/kind.js";

/** Imports, to the engine: their rows are in "Import"; a running import obeys pause and cancel. */
export const IMPORT_KIND: WorkKind = {
  subject: "IMPORT",
  table: "Import",
  flags: ["pauseRequested", "cancelRequested"],
  columns: Object.values(Prisma.ImportScalarFieldEnum),
};
