import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../generated/prisma/client.js";
import { statementNamer } from "./statement-names.js";

export type { PrismaClient };
export type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

let client: PrismaClient | undefined;

/**
 * Opens the process's one Prisma client (a module singleton, as Pothos
 * expects), preparing up to `preparedStatements` of the statements it runs
 * again and again (src/db/statement-names.ts).
 */
export function connectPrisma(databaseUrl: string, preparedStatements = 0): PrismaClient {
  if (client) throw new Error("Prisma is already connected in this process");
  const name = statementNamer(preparedStatements);
  client = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }, { statementNameGenerator: (query) => name(query.sql) }) });
  return client;
}

/** The connected Prisma client; throws before connectPrisma or after disconnectPrisma. */
export function prisma(): PrismaClient {
  if (!client) throw new Error("Prisma is not connected: start the server first");
  return client;
}

export async function disconnectPrisma(): Promise<void> {
  const closing = client;
  client = undefined;
  await closing?.$disconnect();
}
