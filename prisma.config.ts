import { defineConfig } from "prisma/config";

// Prisma 7 reads no .env by itself; the CLI needs a URL only for commands
// that talk to the database (the service migrates itself at start).
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost:5432/milepost" },
});
