import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { subscribe } from "./helpers/subscriptions.js";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

const CREATE = `mutation($name: String!, $role: Role!) { createApiToken(name: $name, role: $role) { token apiToken { id name role } } }`;

async function tokenWith(role: "VIEWER" | "OPERATOR" | "ADMIN"): Promise<{ id: string; token: string }> {
  const created = await server.gql<{ createApiToken: { token: string; apiToken: { id: string } } }>(CREATE, { name: `${role} token`, role });
  expect(created.errors).toBeUndefined();
  return { id: created.data!.createApiToken.apiToken.id, token: created.data!.createApiToken.token };
}

/** Opens a graphql-ws connection and reports how the server closed it. */
function closeCodeOf(connectionParams: Record<string, unknown> | undefined): Promise<number> {
  return new Promise((resolve) => {
    const client = createClient({
      url: server.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams,
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => undefined,
      on: { closed: (event) => resolve((event as { code: number }).code) },
    });
    setTimeout(() => void client.dispose(), 5000).unref();
  });
}

describe("HTTP", () => {
  it("refuses a request without a token with 401 UNAUTHENTICATED", async () => {
    const response = await server.gql("{ health { ok } }", undefined, null);
    expect(response.status).toBe(401);
    expect(response.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("lets anyone read the schema (GraphiQL's docs load before a token is pasted), and nothing else", async () => {
    const introspection = await server.gql<{ __schema: { queryType: { name: string } } }>("{ __schema { queryType { name } } }", undefined, null);
    expect(introspection.data?.__schema.queryType.name).toBe("Query");
    for (const query of ["{ __schema { queryType { name } } health { ok } }", "{ __typename health { ok } }", "mutation { __typename }", "{ ...F } fragment F on Query { health { ok } }"]) {
      const refused = await server.gql(query, undefined, null);
      expect([query, refused.status]).toEqual([query, 401]);
    }
  });

  it("refuses an unknown token", async () => {
    const response = await server.gql("{ health { ok } }", undefined, "mp_not_a_real_token");
    expect(response.status).toBe(401);
    expect(response.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("lets a VIEWER query but not mutate", async () => {
    const viewer = await tokenWith("VIEWER");
    const query = await server.gql<{ viewer: { role: string } }>("{ viewer { role } }", undefined, viewer.token);
    expect(query.data?.viewer.role).toBe("VIEWER");
    const mutation = await server.gql(CREATE, { name: "x", role: "VIEWER" }, viewer.token);
    expect(mutation.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect(mutation.data ?? null).toBeNull();
  });

  it("keeps token management to ADMIN", async () => {
    const operator = await tokenWith("OPERATOR");
    const mutation = await server.gql(CREATE, { name: "x", role: "ADMIN" }, operator.token);
    expect(mutation.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const list = await server.gql("{ apiTokens { id } }", undefined, operator.token);
    expect(list.errors?.[0].extensions?.code).toBe("FORBIDDEN");
  });

  it("stores only a hash of a token, and a revoked token stops working at once", async () => {
    const operator = await tokenWith("OPERATOR");
    const db = new pg.Client({ connectionString: server.databaseUrl });
    await db.connect();
    const stored = await db.query(`SELECT "tokenHash" FROM "ApiToken" WHERE id = $1`, [Number(operator.id)]);
    await db.end();
    expect(stored.rows[0].tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored.rows[0].tokenHash).not.toContain(operator.token);

    expect((await server.gql("{ viewer { id } }", undefined, operator.token)).errors).toBeUndefined();
    const revoked = await server.gql<{ revokeApiToken: { revokedAt: string } }>(
      `mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }`,
      { id: operator.id },
    );
    expect(revoked.data?.revokeApiToken.revokedAt).toBeTruthy();
    const after = await server.gql("{ viewer { id } }", undefined, operator.token);
    expect(after.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("answers NOT_FOUND and BAD_USER_INPUT with the field named", async () => {
    const missing = await server.gql(`mutation { revokeApiToken(id: "999999") { id } }`);
    expect(missing.errors?.[0].extensions?.code).toBe("NOT_FOUND");
    const bad = await server.gql(`mutation { revokeApiToken(id: "abc") { id } }`);
    expect(bad.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(bad.errors?.[0].extensions?.fields).toEqual(["id"]);
    const blank = await server.gql(CREATE, { name: "  ", role: "VIEWER" });
    expect(blank.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(blank.errors?.[0].message).toContain("name");
  });
});

describe("WebSockets", () => {
  it("closes a connection without a token with 4401", async () => {
    expect(await closeCodeOf(undefined)).toBe(4401);
  });

  it("closes a connection with a bad token with 4403", async () => {
    expect(await closeCodeOf({ authorization: "Bearer mp_wrong" })).toBe(4403);
  });

  it("accepts { token } and { authorization } params, and closes the sockets of a revoked token with 4403", async () => {
    const viewer = await tokenWith("VIEWER");
    const closed: number[] = [];
    const params = [{ token: viewer.token }, { authorization: `Bearer ${viewer.token}` }];
    const clients = params.map((connectionParams) => {
      const client = server.ws(connectionParams);
      client.on("closed", (event) => closed.push((event as { code: number }).code));
      return client;
    });
    for (const client of clients) {
      expect(await subscribe(client, "{ viewer { role } }").next()).toEqual({ viewer: { role: "VIEWER" } });
    }
    await server.gql(`mutation($id: ID!) { revokeApiToken(id: $id) { id } }`, { id: viewer.id });
    await expect.poll(() => closed, { timeout: 2000 }).toEqual([4403, 4403]);
  });

  it("checks the token again for every operation on an open socket", async () => {
    const viewer = await tokenWith("VIEWER");
    const client = server.ws({ token: viewer.token });
    expect(await subscribe(client, "{ viewer { role } }").next()).toEqual({ viewer: { role: "VIEWER" } });
    // Revoked behind the service's back (no notice): the next operation still finds out.
    const db = new pg.Client({ connectionString: server.databaseUrl });
    await db.connect();
    await db.query(`UPDATE "ApiToken" SET "revokedAt" = now() WHERE id = $1`, [Number(viewer.id)]);
    await db.end();
    await expect(subscribe(client, "{ viewer { role } }").next()).rejects.toThrow(/UNAUTHENTICATED/);
  });
});
