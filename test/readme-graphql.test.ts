import { readFileSync } from "node:fs";
import { parse, validate, type OperationDefinitionNode } from "graphql";
import { afterAll, beforeAll, expect, it } from "vitest";
import { schema } from "../src/schema/index.js";
import { postGraphQL, startTestServer, type TestServer } from "./helpers/server.js";

// Every GraphQL example of the README and the guide is valid against the schema, and those marked
// `graphql runnable` run, as a reader would paste them into GraphiQL.

/** The user's documents: the README and the pages it links. */
const DOCUMENTS = ["README.md", "docs/guide.md", "docs/operations.md"];
const blocks = DOCUMENTS.flatMap((file) => {
  const text = readFileSync(new URL(`../${file}`, import.meta.url), "utf8");
  return [...text.matchAll(/^```graphql( runnable)?\n([\s\S]*?)^```$/gm)].map((match) => ({
    runnable: Boolean(match[1]),
    text: match[2],
    line: `${file}:${text.slice(0, match.index).split("\n").length}`,
  }));
});

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

it("has GraphQL examples, each a valid document of named operations (or one anonymous one)", () => {
  expect(blocks.length).toBeGreaterThan(10);
  for (const block of blocks) {
    const document = parse(block.text);
    const problems = validate(schema, document).map((error) => error.message);
    expect(problems, block.line).toEqual([]);
  }
});

it("runs the examples marked runnable against a server, in order, without an error", async () => {
  const runnable = blocks.filter((block) => block.runnable);
  expect(runnable.length).toBeGreaterThanOrEqual(5);
  for (const block of runnable) {
    const operations = parse(block.text).definitions.filter((definition): definition is OperationDefinitionNode => definition.kind === "OperationDefinition");
    for (const operation of operations.filter((op) => op.operation !== "subscription")) {
      const answer = await postGraphQL(server.url, { query: block.text, operationName: operation.name?.value }, server.adminToken);
      expect(answer.errors, `${block.line}, ${operation.name?.value ?? "its operation"}`).toBeUndefined();
    }
  }
});
