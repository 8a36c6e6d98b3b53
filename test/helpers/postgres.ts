import pg from "pg";

/** Runs statements on a server-level connection (database `postgres`). */
export async function adminQuery(serverUrl: string, ...statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: `${serverUrl}/postgres` });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}

/** postgresql://user@host:port from a URL that may name a database. */
export function serverUrlOf(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.pathname = "";
  url.search = "";
  return url.toString().replace(/\/$/, "");
}
