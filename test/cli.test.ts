import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { spawnCommand } from "./helpers/process.js";
import { postGraphQL, startTestServer, type TestServer } from "./helpers/server.js";

// The operators' CLI, run as a user runs it (`npx milepost …`), straight against the service's database.

let server: TestServer;
let scratch: string;
beforeAll(async () => {
  server = await startTestServer();
  scratch = await mkdtemp(join(tmpdir(), "milepost-cli-"));
});
afterAll(async () => {
  await server?.stop();
  await rm(scratch, { recursive: true, force: true });
});

/** Runs the CLI to its end: its exit code and what it printed on stdout and stderr. */
async function cli(args: string[], env: Record<string, string> = {}) {
  const child = await spawnCommand([process.execPath, "bin/milepost.mjs", ...args], { DATABASE_URL: server.databaseUrl, MILEPOST_DATA_DIR: scratch, ...env }, null);
  const { code } = await child.exited;
  return { code, output: child.output() };
}
const whoAmI = async (token: string) => (await postGraphQL<{ health: { ok: boolean } }>(server.url, { query: "{ health { database } }" }, token)).errors?.[0]?.extensions?.code ?? "OK";

it("creates a token that works at once, lists it, and revokes it: the way back in when the admin token is lost", async () => {
  const created = await cli(["token", "create", "--name", "rescue", "--role", "admin"]);
  expect(created.code, created.output).toBe(0);
  const secret = /^(mp_\S+)$/m.exec(created.output)![1];
  expect(created.output).toMatch(/created token (\d+) "rescue" \(ADMIN\)/);
  expect(await whoAmI(secret)).toBe("OK");
  const id = /created token (\d+)/.exec(created.output)![1];

  const listed = await cli(["token", "list"]);
  expect(listed.code).toBe(0);
  expect(listed.output).toMatch(new RegExp(`^${id} +rescue +ADMIN +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d +.+ +—$`, "m"));
  expect(listed.output).not.toContain(secret);

  const revoked = await cli(["token", "revoke", id]);
  expect(revoked).toMatchObject({ code: 0 });
  expect(revoked.output).toContain(`revoked token ${id} "rescue" (ADMIN)`);
  expect(await whoAmI(secret)).toBe("UNAUTHENTICATED");
  expect((await cli(["token", "list"])).output).toMatch(new RegExp(`^${id} +rescue +ADMIN .*\\d\\d:\\d\\d:\\d\\d$`, "m"));
});

it("enqueues a JSON Lines file through the API's checks, says line by line what it refused, and shows it in status", async () => {
  const file = join(scratch, "items.jsonl");
  await writeFile(
    file,
    [
      JSON.stringify({ key: "home", payload: { url: "http://127.0.0.1:1/demo/pages/home" }, tags: ["cli"] }),
      JSON.stringify({ key: "typo", payload: { domian: "example.com" } }),
      "not json",
      "",
      JSON.stringify({ key: "home", payload: { url: "http://127.0.0.1:1/demo/pages/home" } }),
      JSON.stringify({ key: "metadata", payload: { url: "http://169.254.169.254/latest/" } }),
      JSON.stringify({ key: "bad-tag", payload: { domain: "example.com" }, tags: ["\u001b[2J"] }),
    ].join("\n"),
  );
  const result = await cli(["enqueue", "http-check", file, "--priority", "5"], { MILEPOST_EGRESS: "127.0.0.1" });
  expect(result.code, result.output).toBe(1);
  expect(result.output).toContain("http-check: 1 added, 1 already queued, 4 refused (of 7 lines)");
  expect(result.output).toMatch(/line 2: payload/);
  expect(result.output).toMatch(/line 3: not JSON/);
  expect(result.output).toMatch(/line 6: payload\.url: 169\.254\.169\.254 is a link-local address/);
  expect(result.output).toMatch(/line 7: tags\.0: a tag is/);
  expect(result.output).not.toContain("\u001b[2J");
  const items = await server.gql<{ queueItems: { edges: { node: { key: string; priority: number; tags: string[] } }[] } }>(`{ queueItems(queue: "http-check") { edges { node { key priority tags } } } }`);
  expect(items.data!.queueItems.edges.map((edge) => edge.node)).toEqual([{ key: "home", priority: 5, tags: ["cli"] }]);

  const status = await cli(["status"]);
  expect(status.code).toBe(0);
  expect(status.output).toMatch(/^kind +pending +running +waiting +paused +completed +failed +cancelled$/m);
  expect(status.output).toMatch(/^collector runs +0 +0 +0 +0 +0 +0 +0$/m);
  expect(status.output).toMatch(/^http-check +\d/m);
  expect(status.output).toMatch(/processes alive \(seen in the last 30 s\): [1-9]/);
});

it("answers --help, and mistakes with one line, the usage and exit code 2; a failed command with exit code 1", async () => {
  for (const args of [["--help"], ["token", "--help"], ["enqueue", "--help"]]) {
    const help = await cli(args);
    expect(help.code, args.join(" ")).toBe(0);
    expect(help.output).toMatch(/milepost (token|enqueue)/);
  }
  const mistakes: [string[], RegExp][] = [
    [[], /Usage:/],
    [["launch"], /milepost: unknown command "launch"/],
    [["token", "create", "--name", "x", "--role", "god"], /needs --role, one of VIEWER, OPERATOR, ADMIN \(got "god"\)/],
    [["token", "create", "--role", "ADMIN"], /needs --name NAME/],
    [["token", "revoke", "abc"], /needs the token's id/],
    [["token", "create", "--colour", "red"], /unknown option --colour/],
    [["enqueue", "http-check"], /needs a queue and a file/],
    [["enqueue", "http-check", "f.jsonl", "--priority", "high"], /--priority must be a whole number/],
  ];
  for (const [args, message] of mistakes) {
    const run = await cli(args);
    expect(run.code, args.join(" ")).toBe(2);
    expect(run.output).toMatch(message);
  }
  const failures: [string[], RegExp][] = [
    [["token", "revoke", "999999"], /milepost: there is no token 999999/],
    [["enqueue", "nope", "f.jsonl"], /milepost: cannot read f\.jsonl|Unknown queue/],
  ];
  for (const [args, message] of failures) {
    const run = await cli(args);
    expect(run.code, args.join(" ")).toBe(1);
    expect(run.output).toMatch(message);
    expect(run.output).not.toMatch(/\n\s+at /); // one line, no stack trace
  }
  const unreachable = await cli(["status"], { DATABASE_URL: "postgresql://postgres@127.0.0.1:1/nowhere" });
  expect(unreachable.code).toBe(1);
  expect(unreachable.output).toMatch(/^milepost: /m);
  expect(unreachable.output).not.toMatch(/\n\s+at /);
});

it("is what `npx milepost` runs (package.json's bin)", async () => {
  const child = await spawnCommand(["npx", "--no-install", "milepost", "--help"], {}, null);
  expect((await child.exited).code).toBe(0);
  expect(child.output()).toContain("milepost token create --name NAME");
});
