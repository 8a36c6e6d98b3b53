import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_ALIASES, MAX_BODY_BYTES, MAX_DOCUMENT_BYTES, MAX_TOKENS } from "../src/http/limits.js";
import { prisma } from "../src/db/client.js";
import { ABSENT_ID, holdsScalar, rootCalls, withScalar } from "./helpers/schema-calls.js";
import { postGraphQL, startTestServer, type GraphQLResponse, type TestServer } from "./helpers/server.js";
import { subscribe } from "./helpers/subscriptions.js";

let server: TestServer;
const tokens: Record<"VIEWER" | "OPERATOR" | "ADMIN", string> = { VIEWER: "", OPERATOR: "", ADMIN: "" };

beforeAll(async () => {
  server = await startTestServer({ MILEPOST_ROLE: "api" });
  tokens.ADMIN = server.adminToken;
  for (const role of ["VIEWER", "OPERATOR"] as const) {
    const created = await server.gql<{ createApiToken: { token: string } }>(`mutation($role: Role!) { createApiToken(name: "hostile", role: $role) { token } }`, { role });
    tokens[role] = created.data!.createApiToken.token;
  }
});
afterAll(() => server.stop());

/** Runs a root call over HTTP, or over graphql-ws for subscriptions; returns its first error's code. */
async function codeOf(call: { operation: string; document: string; variables: Record<string, unknown> }, token = tokens.ADMIN): Promise<string | undefined> {
  if (call.operation === "subscription") {
    const client = server.ws({ token });
    const stream = subscribe(client, call.document, call.variables);
    try {
      await stream.next(5000);
      return undefined;
    } catch (error) {
      return /"code":"([A-Z_]+)"/.exec((error as Error).message)?.[1] ?? (error as Error).message;
    } finally {
      await stream.close();
      await client.dispose();
    }
  }
  const response = await postGraphQL(server.url, { query: call.document, variables: call.variables }, token);
  return response.errors?.[0]?.extensions?.code;
}

/** The mutations only an ADMIN may run; every other one is OPERATOR's too. */
const ADMIN_ONLY = ["createApiToken", "revokeApiToken", "cleanupFailedImports", "cleanQueue"];

describe("roles, for every mutation of the schema", () => {
  const mutations = rootCalls().filter((call) => call.operation === "mutation");

  it("knows the mutations", () => {
    expect(mutations.length).toBeGreaterThanOrEqual(8);
    expect(mutations.map((call) => call.field)).toEqual(expect.arrayContaining(ADMIN_ONLY));
  });

  it.each(mutations.map((call) => [call.field, call] as const))("%s: VIEWER refused, OPERATOR as its role says, ADMIN let in", async (field, call) => {
    expect(await codeOf(call, tokens.VIEWER)).toBe("FORBIDDEN");
    const operator = String(await codeOf(call, tokens.OPERATOR));
    if (ADMIN_ONLY.includes(field)) expect(operator).toBe("FORBIDDEN");
    else expect(operator).not.toMatch(/FORBIDDEN|UNAUTHENTICATED|INTERNAL_SERVER_ERROR/);
    expect(String(await codeOf(call, tokens.ADMIN))).not.toMatch(/FORBIDDEN|UNAUTHENTICATED|INTERNAL_SERVER_ERROR/);
  });
});

describe("ids, for every ID argument of the schema", () => {
  it.each(["9999999999999999999", "0x10", "1e3", "-1", "0", " 7", "7.0", "abc", ""])("refuses id %j as BAD_USER_INPUT", async (bad) => {
    const calls = rootCalls(({ arg }) => (holdsScalar(arg.type, "ID") ? withScalar(arg.type, "ID", bad) : undefined)).filter((call) =>
      call.args.some((arg) => holdsScalar(arg.type, "ID")),
    );
    expect(calls.length).toBeGreaterThan(5);
    for (const call of calls) expect([call.field, await codeOf(call)]).toEqual([call.field, "BAD_USER_INPUT"]);
  });

  it("answers an absent but valid id with NOT_FOUND or null, never an error of the server", async () => {
    const found = await server.gql<{ import: null }>(`query($id: ID!) { import(id: $id) { id } }`, { id: ABSENT_ID });
    expect(found.data?.import).toBeNull();
    const missing = await server.gql(`mutation($id: ID!) { pauseImport(id: $id) { id } }`, { id: ABSENT_ID });
    expect(missing.errors?.[0].extensions?.code).toBe("NOT_FOUND");
  });
});

describe("strings", () => {
  it("refuses U+0000 and half a surrogate pair in every String argument of the schema, naming it", async () => {
    const targets = rootCalls().flatMap((call) => call.args.filter((arg) => holdsScalar(arg.type, "String")).map((arg) => ({ field: call.field, arg: arg.name })));
    expect(targets.length).toBeGreaterThan(5);
    for (const bad of ["a\u0000b", "a\ud800b", "a\udc00b"]) {
      for (const target of targets) {
        const [call] = rootCalls(({ field, arg }) => (field === target.field && arg.name === target.arg ? withScalar(arg.type, "String", bad) : undefined)).filter(
          (candidate) => candidate.field === target.field,
        );
        expect([target, bad, await codeOf(call)]).toEqual([target, bad, "BAD_USER_INPUT"]);
      }
    }
  });

  it("refuses half a surrogate pair in a key, a label, a payload, a payload filter, a config, a comment and a literal, as BAD_USER_INPUT naming the place", async () => {
    const ENQUEUE = `mutation($input: EnqueueInput!) { enqueue(input: $input) { added { id } } }`;
    for (const [item, field] of [
      [{ key: "k\ud800", payload: { url: "http://127.0.0.1/" } }, "input.items.0.key"],
      [{ key: "k", label: "\udfff", payload: { url: "http://127.0.0.1/" } }, "input.items.0.label"],
      [{ key: "k", payload: { url: "http://127.0.0.1/\ud800" } }, "input.items.0.payload.url"],
    ] as const) {
      const refused = await server.gql(ENQUEUE, { input: { queue: "http-check", items: [item] } });
      expect(refused.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", fields: [field] });
    }
    const filter = await server.gql(`query($payload: JSON) { queueItems(payload: $payload) { totalCount } }`, { payload: { domain: "\ud800" } });
    expect(filter.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", fields: ["payload.domain"] });
    const config = await server.gql(`mutation($input: StartImportInput!) { startImport(input: $input) { id } }`, { input: { source: "http-json", config: { url: "http://127.0.0.1/\ud800", pagination: { type: "link" } } } });
    expect(config.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", fields: ["input.config.url"] });
    const comment = await server.gql(`mutation($body: String!) { addComment(jobId: "1", body: $body) { id } }`, { body: "half \ud800 a pair" });
    expect(comment.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", fields: ["body"] });
    // Written into the document, graphql-js refuses it as a syntax error already.
    const literal = await server.gql(`{ records(dataset: "a\\ud800b") { totalCount } }`);
    expect(literal.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("refuses a variable nested 100,000 levels deep as BAD_USER_INPUT, without overflowing the stack", async () => {
    // Written out by hand: JSON.stringify itself would overflow on it.
    const deep = `${"[".repeat(100_000)}"bottom"${"]".repeat(100_000)}`;
    const body = `{"query":"query($payload: JSON) { queueItems(payload: $payload) { totalCount } }","variables":{"payload":${deep}}}`;
    const refused = await postGraphQL(server.url, body, server.adminToken);
    expect(refused.status).toBe(200);
    expect(refused.errors?.[0]).toMatchObject({ message: expect.stringMatching(/may not nest deeper than 32 levels/), extensions: { code: "BAD_USER_INPUT" } });
    // And at the documented depth of a JSON input (10 levels), it is taken.
    let ten: unknown = "bottom";
    for (let level = 0; level < 10; level++) ten = { level: ten };
    expect((await server.gql(`query($payload: JSON) { queueItems(payload: $payload) { totalCount } }`, { payload: ten })).errors).toBeUndefined();
  });

  it("refuses last and before on the lists that page forward only, instead of answering another page", async () => {
    for (const [query, field] of [
      [`{ queueItems(last: 2) { totalCount } }`, "last"],
      [`{ queueItems(first: 2, before: "5") { totalCount } }`, "before"],
      [`{ events(subject: { kind: JOB, id: "1" }, last: 2) { totalCount } }`, "last"],
    ] as const) {
      const refused = await server.gql(query);
      expect([query, refused.errors?.[0].extensions]).toMatchObject([query, { code: "BAD_USER_INPUT", fields: [field] }]);
    }
  });

  it("refuses a runAfter PostgreSQL and JavaScript do not agree on as BAD_USER_INPUT, and takes the years 1 to 9999", async () => {
    const ENQUEUE = `mutation($input: EnqueueInput!) { enqueue(input: $input) { added { runAfter } } }`;
    for (const runAfter of ["0000-01-01T00:00:00Z", "-004713-01-01T00:00:00Z", "-271821-04-20T00:00:00.000Z", "+275760-09-13T00:00:00.000Z"]) {
      const refused = await server.gql(ENQUEUE, { input: { queue: "http-check", items: [{ key: `when-${runAfter}`, payload: { url: "http://127.0.0.1/" } }], runAfter } });
      expect([runAfter, refused.errors?.[0].extensions?.code]).toEqual([runAfter, "BAD_USER_INPUT"]);
    }
    for (const runAfter of ["0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"]) {
      const taken = await server.gql<{ enqueue: { added: { runAfter: string }[] } }>(ENQUEUE, { input: { queue: "http-check", items: [{ key: `when-${runAfter}`, payload: { url: "http://127.0.0.1/" } }], runAfter } });
      expect(taken.data?.enqueue.added[0].runAfter).toBe(runAfter);
    }
  });

  it("refuses U+0000 inside a JSON config and written into the document", async () => {
    const inConfig = await server.gql(`mutation($input: StartImportInput!) { startImport(input: $input) { id } }`, {
      input: { source: "http-json", config: { url: "http://127.0.0.1/x", headers: { "x-a": "1\u00002" }, pagination: { type: "link" } } },
    });
    expect(inConfig.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", fields: ["input.config.headers.x-a"] });
    const literal = await server.gql(`{ records(dataset: "a\\u0000b") { totalCount } }`);
    expect(literal.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", fields: ["dataset"] });
  });
});

describe("documents and bodies", () => {
  const aliases = (count: number, first = 1000) =>
    `{ ${Array.from({ length: count }, (_, index) => `r${index}: records(dataset: "d", first: ${first}) { edges { node { id data } } }`).join(" ")} }`;

  it("answers a query that is not a string with BAD_USER_INPUT", async () => {
    for (const body of [{ query: 5 }, { query: { a: 1 } }, { query: "{ health { ok } }", variables: [1] }, { query: "{ health { ok } }", operationName: 3 }]) {
      const response = await postGraphQL(server.url, body, tokens.ADMIN);
      expect([body, response.status, response.errors?.[0].extensions?.code]).toEqual([body, 400, "BAD_USER_INPUT"]);
    }
  });

  it("refuses an alias bomb over HTTP and WebSockets alike, before any record is read", async () => {
    for (const count of [1650, 300, MAX_ALIASES + 1]) {
      const http = await server.gql(aliases(count));
      expect(http.errors?.[0]).toMatchObject({ extensions: { code: "BAD_USER_INPUT" }, message: expect.stringMatching(/Aliases limit of 20 exceeded|Token limit|larger than 100 kB/) });
      expect(await codeOf({ operation: "subscription", document: aliases(count), variables: {} })).toBe("BAD_USER_INPUT");
    }
  });

  it("refuses by cost what few aliases ask for too many rows, and allows an honest page", async () => {
    const costly = await server.gql<GraphQLResponse>(aliases(MAX_ALIASES));
    expect(costly.errors?.[0]).toMatchObject({ extensions: { code: "BAD_USER_INPUT", reason: "COST_LIMIT" }, message: expect.stringMatching(/complexity of \d+ exceeds max complexity of 25000/) });
    const nested = await server.gql(`{ imports(first: 200) { edges { node { errors(first: 500) { edges { node { message } } } } } } }`);
    expect(nested.errors?.[0].extensions?.reason).toBe("COST_LIMIT");
    const honest = await server.gql(aliases(1));
    expect(honest.errors).toBeUndefined();
    // A JSON value costs 20 fields: 500 payloads fit in one operation, 1,500 do not.
    const payloads = (count: number) => `{ ${Array.from({ length: count }, (_, index) => `q${index}: queueItems(first: 500) { edges { node { id payload } } }`).join(" ")} }`;
    expect((await server.gql(payloads(1), undefined, tokens.VIEWER)).errors).toBeUndefined();
    expect((await server.gql(payloads(3), undefined, tokens.VIEWER)).errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", reason: "COST_LIMIT" });
    // A job's comments are paged like every list, and count toward the cost once per comment asked for.
    const comments = `{ ${Array.from({ length: 20 }, (_, index) => `j${index}: job(id: "1") { comments(first: 500) { body author createdAt } }`).join(" ")} }`;
    expect((await server.gql(comments, undefined, tokens.VIEWER)).errors?.[0].extensions?.reason).toBe("COST_LIMIT");
    expect((await server.gql(`{ job(id: "1") { comments(first: 501) { body } } }`)).errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", fields: ["first"] });
    // A queue's RUNNING items are up to 100, each with its payload: counted so.
    const running = `{ ${Array.from({ length: 13 }, (_, index) => `s${index}: queueStatus(queue: "http-check") { current { payload } }`).join(" ")} }`;
    expect((await server.gql(running, undefined, tokens.VIEWER)).errors?.[0].extensions?.reason).toBe("COST_LIMIT");
    // Tokens are paged too.
    const page = await server.gql<{ apiTokens: { id: string }[] }>(`{ apiTokens(first: 1) { id } }`);
    expect(page.data!.apiTokens).toHaveLength(1);
    const older = await server.gql<{ apiTokens: { id: string }[] }>(`query($after: ID) { apiTokens(first: 500, after: $after) { id } }`, { after: page.data!.apiTokens[0].id });
    expect(older.data!.apiTokens.every((token) => Number(token.id) < Number(page.data!.apiTokens[0].id))).toBe(true);
  });

  it("answers a query whose answer would pass 16 MB with that error alone, and a VIEWER gets no more than that", async () => {
    // 320 items of 60 kB payloads: about 19 MB, under the cost limit (two aliases of 160 rows).
    const payload = { url: `http://127.0.0.1/${"p".repeat(60_000)}` };
    for (let batch = 0; batch < 4; batch++) {
      const added = await server.gql(`mutation($input: EnqueueInput!) { enqueue(input: $input) { added { id } } }`, {
        input: { queue: "http-check", items: Array.from({ length: 80 }, (_, index) => ({ key: `big-${batch}-${index}`, payload })), runAfter: "2999-01-01T00:00:00Z" },
      });
      expect(added.errors).toBeUndefined();
    }
    const query = `{ a: queueItems(search: "big-", first: 160) { edges { node { payload } } } b: queueItems(search: "big-", first: 160, after: "1") { edges { node { payload } } } c: queueItems(search: "big-", first: 320) { edges { node { payload } } } }`;
    const response = await fetch(server.url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${tokens.VIEWER}` }, body: JSON.stringify({ query }) });
    const text = await response.text();
    expect(text.length).toBeLessThan(1000);
    expect(JSON.parse(text)).toMatchObject({ errors: [{ message: expect.stringMatching(/larger than 16 MB/), extensions: { code: "BAD_USER_INPUT", reason: "ANSWER_TOO_LARGE" } }] });
    // On a nullable field, too, the answer is the error alone, not the part that fit with a null for each field past it.
    await prisma().queueItem.updateMany({ where: { key: { startsWith: "big-" } }, data: { result: payload } });
    const nullable = await fetch(server.url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${tokens.VIEWER}` }, body: JSON.stringify({ query: `{ queueItems(search: "big-", first: 320) { edges { node { result } } } }` }) });
    const nullableText = await nullable.text();
    expect(nullableText.length).toBeLessThan(1000);
    expect(JSON.parse(nullableText)).toMatchObject({ errors: [{ extensions: { reason: "ANSWER_TOO_LARGE" } }] });
    // Under the limit, the same items come whole.
    const page = await server.gql<{ queueItems: { edges: { node: { payload: { url: string } } }[] } }>(`{ queueItems(search: "big-", first: 200) { edges { node { payload } } } }`, undefined, tokens.VIEWER);
    expect(page.data!.queueItems.edges).toHaveLength(200);
    expect(page.data!.queueItems.edges[0].node.payload.url).toHaveLength(payload.url.length);
  });

  it("enforces the documented token limit: 3,000 lexical tokens are taken, 3,001 refused", async () => {
    expect(MAX_TOKENS).toBe(3000);
    // 12 tokens around a list of n values: n + 12.
    const document = (tokens: number) => `{ queueItems(status: [${Array(tokens - 12).fill("PENDING").join(" ")}]) { totalCount } }`;
    expect((await server.gql(document(3000))).errors).toBeUndefined();
    expect((await server.gql(document(3001))).errors?.[0]).toMatchObject({ message: expect.stringMatching(/Token limit of 3000/), extensions: { code: "BAD_USER_INPUT" } });
  });

  it("refuses a document over the size limit on the WebSocket too", async () => {
    const document = `{ health { ok } } # ${"x".repeat(MAX_DOCUMENT_BYTES + 1)}`;
    expect(await codeOf({ operation: "subscription", document, variables: {} })).toBe("BAD_USER_INPUT");
  });

  it("refuses a JSON input of 100,000 keys or 11 levels as BAD_USER_INPUT, quickly", async () => {
    const wide = Object.fromEntries(Array.from({ length: 100_000 }, (_, index) => [`k${index}`, index]));
    const started = Date.now();
    const refused = await server.gql(`mutation($input: StartImportInput!) { startImport(input: $input) { id } }`, { input: { source: "http-json", config: wide } });
    expect(refused.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(refused.errors?.[0].message).toMatch(/larger than 64 kB/);
    expect(Date.now() - started).toBeLessThan(5000);
    let deep: unknown = "bottom";
    for (let level = 0; level < 11; level++) deep = { level: deep };
    const nested = await server.gql(`mutation($input: StartImportInput!) { startImport(input: $input) { id } }`, { input: { source: "http-json", config: deep } });
    expect(nested.errors?.[0].message).toMatch(/deeper than 10 levels/);
  });

  it("answers a bad connection cursor or page size with BAD_USER_INPUT", async () => {
    for (const args of [`after: "garbage"`, `first: -1`, `first: 100000`, `last: -3`]) {
      const response = await server.gql(`{ records(dataset: "d", ${args}) { totalCount } }`);
      expect([args, response.errors?.[0].extensions?.code]).toEqual([args, "BAD_USER_INPUT"]);
    }
  });

  it("caps a chunked body (no Content-Length) at the documented size", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(server.url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${tokens.ADMIN}`, "transfer-encoding": "chunked" } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on("error", reject);
      request.write(`{"query": "{ health { ok } }", "variables": {"blob": "`);
      const chunk = "x".repeat(1024 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent <= MAX_BODY_BYTES + chunk.length) {
          sent += chunk.length;
          if (!request.write(chunk)) return void request.once("drain", pump);
        }
        request.end(`"}}`);
      };
      pump();
    });
    expect(status).toBe(413);
    expect((await server.gql<{ health: { database: boolean } }>("{ health { database } }")).data?.health.database).toBe(true);
  });
});
