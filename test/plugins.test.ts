import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { subscribe } from "./helpers/subscriptions.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MILEPOST_PLUGINS: fileURLToPath(new URL("./fixtures/plugin-source.mjs", import.meta.url)) });
});
afterAll(() => server.stop());

it("loads sources from MILEPOST_PLUGINS and imports through them", async () => {
  const sources = await server.gql<{ sources: { name: string; configSchema: { properties: object } }[] }>("{ sources { name configSchema } }");
  expect(sources.data!.sources.map((source) => source.name)).toEqual(["countdown", "demo-backup", "demo-movies", "http-json", "http-tree"]);
  expect(sources.data!.sources[0].configSchema.properties).toHaveProperty("from");

  const started = await server.gql<{ startImport: { id: string } }>(`mutation { startImport(input: { source: "countdown", config: { from: 10 } }) { id } }`);
  const id = started.data!.startImport.id;
  const client = server.ws();
  const updates = subscribe<{ importUpdated: { status: string; pagesDone: number; itemsNew: number } }>(client, `subscription($id: ID!) { importUpdated(id: $id) { status pagesDone itemsNew } }`, { id });
  let view = (await updates.next()).importUpdated;
  while (view.status !== "COMPLETED") view = (await updates.next()).importUpdated;
  await updates.close();
  expect(view).toMatchObject({ pagesDone: 4, itemsNew: 10 });
});
