// `npm run config:table`: prints the README's configuration table.
import { configTable } from "../src/config-table.js";

process.stdout.write(`${configTable()}\n`);
