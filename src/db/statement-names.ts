import { createHash } from "node:crypto";

/**
 * A `*` that expands to a relation's columns (`SELECT *`, `t.*`,
 * `RETURNING *`), as opposed to `count(*)`. Multiplication matches too,
 * which only costs that statement its name.
 */
const EXPANDS_COLUMNS = /(?:^|[\s,.])\*(?=\s|,|\)|$)/m;

/** Texts seen once are remembered up to this many; then forgotten all at once (a one-off flood cannot grow the process). */
const SEEN_LIMIT = 10_000;

/** What the driver sends as an unnamed statement: parsed and planned for this one call. */
const UNNAMED = "";

/**
 * Names PostgreSQL prepared statements for the driver
 * (`statementNameGenerator` of @prisma/adapter-pg), so that a statement a
 * process runs again and again (a worker's claims and ends, lease renewals,
 * a token's lookup) is parsed and planned once per connection instead of on
 * every call: that halved PostgreSQL's time per queue item and job step
 * (see the README's benchmarks).
 *
 * A statement is named the second time its text is seen, up to `limit`
 * names per process, since every pooled connection keeps each one for its
 * life; past the limit statements run unnamed, as before. A statement whose
 * result has a `*` is never named: PostgreSQL fixes a prepared statement's
 * result columns, so it would fail ("cached plan must not change result
 * type") once a migration added a column to the table.
 */
export function statementNamer(limit: number): (sql: string) => string {
  const named = new Set<string>();
  const seen = new Set<string>();
  return (sql) => {
    if (limit === 0) return UNNAMED;
    const hash = createHash("sha1").update(sql).digest("base64url");
    if (named.has(hash)) return `milepost_${hash}`;
    if (named.size >= limit || EXPANDS_COLUMNS.test(sql)) return UNNAMED;
    if (!seen.has(hash)) {
      if (seen.size >= SEEN_LIMIT) seen.clear();
      seen.add(hash);
      return UNNAMED;
    }
    seen.delete(hash);
    named.add(hash);
    return `milepost_${hash}`;
  };
}
