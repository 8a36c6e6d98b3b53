import { readFileSync } from "node:fs";
import { buildSchema, findBreakingChanges, printSchema } from "graphql";
import { expect, it } from "vitest";
import { schema } from "../src/schema/index.js";

const read = (file: string) => readFileSync(new URL(file, import.meta.url), "utf8");

it("breaks nothing in the agreed contract but what later issues still build", () => {
  const contract = buildSchema(read("./contract.graphql"));
  const changes = findBreakingChanges(contract, schema).map((change) => `${change.type}: ${change.description}`);
  const pending = read("./contract-pending.txt").split("\n").filter(Boolean);
  expect(changes.filter((change) => !pending.includes(change))).toEqual([]);
  // An entry that no longer breaks anything has been built: take it off the list.
  expect(pending.filter((entry) => !changes.includes(entry))).toEqual([]);
});

it("keeps the committed schema.graphql up to date (npm run schema:print)", () => {
  expect(read("../schema.graphql")).toBe(`${printSchema(schema)}\n`);
});
