import { createHash } from "node:crypto";
import pg from "pg";

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

/** PostgreSQL's answer (SQLSTATE 0A000) to a prepared statement whose result a change of the schema altered, e.g. a column's type. */
const STALE_RESULT = "cached plan must not change result type";

export interface StatementNames {
  /** The name to prepare `sql` under, or "" to send it unnamed. */
  name(sql: string): string;
  /** Gives up every name given so far: statements are prepared again, under new names, as they come back. */
  forget(): void;
}

/**
 * Names PostgreSQL prepared statements for the driver
 * (`statementNameGenerator` of @prisma/adapter-pg), so that a statement a
 * process runs again and again (a worker's claims and ends, lease renewals,
 * a token's lookup) is parsed and planned once per connection instead of on
 * every call (see the README's notes on the stack for what it saved).
 *
 * A statement is named the second time its text is seen, up to `limit`
 * names per process, since every pooled connection keeps each one for its
 * life; past the limit statements run unnamed, as before. A statement whose
 * result has a `*` is never named: PostgreSQL fixes a prepared statement's
 * result columns, so it would fail once a migration added a column.
 */
export function statementNames(limit: number): StatementNames {
  // The named texts themselves (at most `limit`): a worker's largest statements come back every batch, and looking
  // one up costs less than hashing it again.
  let named = new Map<string, string>();
  let seen = new Set<string>();
  let generation = 0;
  return {
    name(sql) {
      if (limit === 0) return UNNAMED;
      const known = named.get(sql);
      if (known !== undefined) return known;
      if (named.size >= limit || EXPANDS_COLUMNS.test(sql)) return UNNAMED;
      const hash = createHash("sha1").update(sql).digest("base64url");
      if (!seen.has(hash)) {
        if (seen.size >= SEEN_LIMIT) seen.clear();
        seen.add(hash);
        return UNNAMED;
      }
      seen.delete(hash);
      const name = `milepost_${generation}_${hash}`;
      named.set(sql, name);
      return name;
    },
    forget() {
      generation += 1;
      named = new Map();
      seen = new Set();
    },
  };
}

const isStale = (error: unknown) => error instanceof pg.DatabaseError && error.code === "0A000" && error.message === STALE_RESULT;

/**
 * A pool whose prepared statements survive a change of the schema that
 * alters what one returns (a migration changing a column's type, or an
 * operator's ALTER TABLE). A statement outside a transaction that fails so
 * makes the process forget every name, so each statement is prepared anew
 * as it comes back, and is sent again at once (it failed before doing
 * anything). A transaction's statements are sent unnamed: one failing so
 * would fail the whole transaction, which cannot be sent again.
 */
export function preparingPool(connectionString: string, names: StatementNames): pg.Pool {
  const pool = new pg.Pool({ connectionString });
  const query = pool.query.bind(pool) as (config: pg.QueryConfig) => Promise<pg.QueryResult>;
  pool.query = (async (config: pg.QueryConfig) => {
    try {
      return await query(config);
    } catch (error) {
      if (!config.name || !isStale(error)) throw error;
      names.forget();
      return query({ ...config, name: names.name(config.text) });
    }
  }) as pg.Pool["query"];
  // The adapter runs a transaction on a client of its own and calls its query with a config alone; the pool's own query,
  // above, calls it with a callback.
  pool.on("connect", (client) => {
    const clientQuery = client.query.bind(client) as (...args: unknown[]) => unknown;
    client.query = ((...args: unknown[]) =>
      args.length === 1 && typeof args[0] === "object" ? clientQuery({ ...(args[0] as pg.QueryConfig), name: undefined }) : clientQuery(...args)) as pg.PoolClient["query"];
  });
  return pool;
}
