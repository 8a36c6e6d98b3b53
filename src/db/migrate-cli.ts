// `npm run db:migrate`: applies prisma/migrations to the configured database.
import { loadConfig } from "../config.js";
import { logger } from "../logger.js";
import { openDatabase } from "./database.js";

const database = await openDatabase(loadConfig(), logger);
logger.info("migrations are up to date");
await database.close();
