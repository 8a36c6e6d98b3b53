import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { cloneDatabase } from "./helpers/database.js";
import { postGraphQL, startTestServer } from "./helpers/server.js";

it("generates one ADMIN token on a first start, saved with mode 0600, and none on the next", async () => {
  const database = await cloneDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), "milepost-first-start-"));
  const env = { MILEPOST_ADMIN_TOKEN: "", MILEPOST_DATA_DIR: dataDir };
  try {
    const first = await startTestServer(env, database.url);
    const file = join(dataDir, "admin-token");
    const token = (await readFile(file, "utf8")).trim();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const me = await postGraphQL<{ viewer: { role: string } }>(first.url, { query: "{ viewer { role } }" }, token);
    expect(me.data?.viewer.role).toBe("ADMIN");
    await first.stop();

    await rm(file);
    const second = await startTestServer(env, database.url);
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
    const tokens = await postGraphQL<{ apiTokens: unknown[] }>(second.url, { query: "{ apiTokens { id } }" }, token);
    expect(tokens.data?.apiTokens).toHaveLength(1);
    await second.stop();
  } finally {
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
});
