import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../generated/prisma/client.js";
import { preparingPool, statementNames } from "./prepared-statements.js";

export type { PrismaClient };
export type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

let client: PrismaClient | undefined;

/**
 * Opens the process's one Prisma client (a module singleton, as Pothos
 * expects), preparing up to `preparedStatements` of the statements it runs
 * again and again (src/db/prepared-statements.ts).
 */
export function connectPrisma(databaseUrl: string, preparedStatements = 0): PrismaClient {
  if (client) throw new Error("Prisma is already connected in this process");
  const names = statementNames(preparedStatements);
  const adapter = new PrismaPg(preparingPool(databaseUrl, names), { statementNameGenerator: (query) => names.name(query.sql), disposeExternalPool: true });
  client = new PrismaClient({ adapter });
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
