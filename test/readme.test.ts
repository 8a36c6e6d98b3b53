import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { configTable } from "../src/config-table.js";

it("shows the configuration table of src/config.ts (npm run config:table)", () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const between = readme.split("<!-- config-table:start -->\n")[1]?.split("<!-- config-table:end -->")[0];
  expect(between?.trim()).toBe(configTable());
});

it("documents the repository from within it: no link leaves for files a user does not have", () => {
  for (const file of ["../README.md", "../docs/architecture.md", "../docs/guide.md", "../docs/operations.md", "../docs/benchmarks.md", "../docs/development.md"]) {
    const text = readFileSync(new URL(file, import.meta.url), "utf8");
    expect([file, text.match(/\.\.\/shared|DESIGN\.md|STYLE\.md/g)]).toEqual([file, null]);
  }
});
