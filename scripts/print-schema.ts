// `npm run schema:print`: writes the schema the server builds to schema.graphql
// (committed; test/schema.test.ts fails when it is stale).
import { writeFileSync } from "node:fs";
import { printSchema } from "graphql";
import { schema } from "../src/schema/index.js";

writeFileSync(new URL("../schema.graphql", import.meta.url), `${printSchema(schema)}\n`);
