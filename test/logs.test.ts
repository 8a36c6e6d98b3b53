import { afterAll, beforeAll, expect, it } from "vitest";
import { prettyLine } from "../src/logger.js";
import { cloneDatabase } from "./helpers/database.js";
import { spawnCommand } from "./helpers/process.js";
import { newSecret, postGraphQL } from "./helpers/server.js";

// What a person at the server's terminal sees: one readable line per start, wait and end of work, and nothing
// a value can do to the terminal.

let database: Awaited<ReturnType<typeof cloneDatabase>>;
beforeAll(async () => {
  database = await cloneDatabase();
});
afterAll(() => database?.drop());

it("writes one readable line per start and end of an import with LOG_FORMAT=pretty (the default at a terminal)", async () => {
  const token = newSecret();
  const server = await spawnCommand([process.execPath, "--import", "tsx", "src/server.ts"], { DATABASE_URL: database.url, MILEPOST_ADMIN_TOKEN: token, PORT: "0", LOG_FORMAT: "pretty" }, null);
  await expect.poll(() => server.output(), { timeout: 30_000 }).toMatch(/GraphQL: http/);
  const url = /GraphQL: (http:\/\/\S+)/.exec(server.output())![1];
  expect(server.output()).toMatch(/INFO: milepost started/);
  expect(server.output()).toMatch(/Dashboard: http:\/\/127\.0\.0\.1:\d+\//);
  const started = await postGraphQL<{ startImport: { id: string } }>(url, { query: `mutation { startImport(input: { source: "demo-movies", config: {}, maxPages: 3 }) { id } }` }, token);
  const id = started.data!.startImport.id;
  await expect.poll(() => server.output(), { timeout: 15_000 }).toMatch(new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\] INFO: import ${id}: RUNNING → COMPLETED \\(maxPages \\(3\\) reached\\)$`, "m"));
  expect(server.output()).toMatch(new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\] INFO: import ${id}: PENDING → RUNNING \\(started\\)$`, "m"));
  expect(server.output()).not.toMatch(/^\{"level"/m);
  await server.stop();
});

it("shows no value that could move the cursor, clear the screen, break the line or reorder the text", () => {
  const hostile = `FAILED: \u001b[2J\u001b]0;pwned\u0007 x\u0000y\r\nnext\u202egnp.exe\u009b31m path C:\\new`;
  const shown = prettyLine(`${JSON.stringify({ level: 50, time: 0, msg: hostile, reason: hostile })}\n`);
  expect(shown.trimEnd().split("\n")).toHaveLength(1);
  expect(shown).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  expect(shown).toContain("[2J"); // what is left of the escape is harmless text
  expect(shown).toContain("C:\\new");
});
