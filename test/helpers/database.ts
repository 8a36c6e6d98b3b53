import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { adminQuery } from "./postgres.js";

/** A new database cloned from the migrated template; dropped by the returned function. */
export async function cloneDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const server = inject("pgServerUrl");
  const name = `milepost_test_${randomBytes(5).toString("hex")}`;
  const create = `CREATE DATABASE ${name} TEMPLATE ${inject("templateDatabase")}`;
  // Two files cloning at the same instant can see "source database is being accessed by other users".
  for (let attempt = 1; ; attempt++) {
    try {
      await adminQuery(server, create);
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== "55006" || attempt === 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
  return {
    url: `${server}/${name}`,
    drop: () => adminQuery(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
