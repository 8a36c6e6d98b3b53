import { Prisma } from "../generated/prisma/client.js";

/**
 * The one clock of leases and due times: the database's. Workers run on
 * machines whose clocks drift apart; were each to write its own time into a
 * lease and judge others' leases by it, a worker running 10 s ahead would
 * take live work. Columns hold UTC without a zone (Prisma's DateTime), so
 * the time is taken in UTC whatever the session's TimeZone.
 * statement_timestamp() is the same for the whole statement, so a move and
 * its events agree.
 */
export const DB_NOW = Prisma.sql`(statement_timestamp() AT TIME ZONE 'UTC')`;

/**
 * The database's time `ms` milliseconds from now (negative: ago). Written
 * without a `*`, which would keep the statements using it from being
 * prepared (src/db/prepared-statements.ts cannot tell it from `SELECT *`).
 */
export function dbNowPlus(ms: Prisma.Sql | number): Prisma.Sql {
  return Prisma.sql`(${DB_NOW} + make_interval(secs => (${ms})::float8 / 1000))`;
}

/** DB_NOW as JSON carries a time: ISO 8601 in UTC with its zone, as JavaScript's Date reads it. */
export const DB_NOW_ISO = Prisma.sql`to_char(${DB_NOW}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
