import pg from "pg";

/**
 * A pg Client of its own (not Prisma's pool), that cannot end the process:
 * a connection lost while the client is idle is an 'error' event, which with
 * no listener is thrown as "Unhandled 'error' event". The listener keeps it;
 * the client's next query fails with it, where its caller handles it.
 */
export function newClient(config: pg.ClientConfig): pg.Client {
  const client = new pg.Client(config);
  client.on("error", () => undefined);
  return client;
}
