// Assembles the schema: each domain file adds its types and root fields.
import { builder } from "./builder.js";
import "./scalars.js";
import "./status.js";
import "./checkpoint.js";
import "./api-tokens.js";
import "./health.js";
import "./events.js";
import "./source.js";
import "./import-error.js";
import "./import.js";
import "./import-summary.js";
import "./records.js";
import "./processor.js";
import "./queue-item.js";
import "./queue-status.js";
import "./job.js";
import "./comment.js";
import "./job-stats.js";
import "./collector.js";

export const schema = builder.toSchema({ sortSchema: false });
