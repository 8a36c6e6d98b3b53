// Unit tests of the rules the engine applies to what upstreams send back and to errors.
import { describe, expect, it } from "vitest";
import { describeError } from "../src/engine/error-text.js";
import { rateLimitEnd } from "../src/engine/http-client.js";
import { configureSecrets, parseGrant, redactDeep, redactText } from "../src/secrets.js";
import { isDatabaseUnavailable } from "../src/db/availability.js";
import { nextLink } from "../src/sources/http-json.js";
import { pino } from "pino";
import { createRejectionReporter } from "../src/unhandled.js";

const NOW = Date.parse("2026-11-30T12:00:00Z");
const headers = (entries: Record<string, string>) => new Headers(entries);

describe("rate-limit headers", () => {
  it.each([
    ["Retry-After in seconds", { "retry-after": "120" }, NOW + 120_000],
    ["Retry-After of 0", { "retry-after": "0" }, NOW],
    ["Retry-After as an HTTP date", { "retry-after": "Mon, 30 Nov 2026 12:05:00 GMT" }, Date.parse("2026-11-30T12:05:00Z")],
    ["Retry-After as a date already past", { "retry-after": "Mon, 30 Nov 2026 11:00:00 GMT" }, NOW],
    ["X-RateLimit-Reset as epoch seconds", { "x-ratelimit-reset": String(NOW / 1000 + 90) }, NOW + 90_000],
    ["X-RateLimit-Reset as seconds from now", { "x-ratelimit-reset": "30" }, NOW + 30_000],
    ["Retry-After before X-RateLimit-Reset", { "retry-after": "10", "x-ratelimit-reset": "30" }, NOW + 10_000],
    ["neither: a minute", {}, NOW + 60_000],
    ["garbage: a minute", { "retry-after": "soon", "x-ratelimit-reset": "later" }, NOW + 60_000],
    ["a Retry-After of centuries: a day", { "retry-after": "9999999999999" }, NOW + 86_400_000],
    ["an X-RateLimit-Reset at the end of time: a day", { "x-ratelimit-reset": "99999999999999" }, NOW + 86_400_000],
  ])("%s", (_what, given, expected) => {
    expect(rateLimitEnd(headers(given), NOW)).toBe(expected);
  });
});

describe("Link headers", () => {
  const base = "https://api.example.com/v1/items?page=2";
  it.each([
    ["the next among several", '<https://api.example.com/v1/items?page=1>; rel="prev", <https://api.example.com/v1/items?page=3>; rel="next"', "https://api.example.com/v1/items?page=3"],
    ["rel with several values", '<https://api.example.com/v1/items?page=9>; rel="last", <https://api.example.com/v1/items?page=3>; rel="next last"', "https://api.example.com/v1/items?page=3"],
    ["a relative URL", '</v1/items?page=3>; rel="next"', "https://api.example.com/v1/items?page=3"],
    ["a relative path", '<items?page=3>; rel=next', "https://api.example.com/v1/items?page=3"],
    ["upper case and spaces", '<https://x.example/p3> ;  REL="NEXT"', "https://x.example/p3"],
    ["a comma inside the URL", '<https://x.example/a,b>; rel="next"', "https://x.example/a,b"],
    ["no next", '<https://x.example/p1>; rel="prev"', null],
    ["no header", null, null],
    ["nextish is not next", '<https://x.example/p3>; rel="nextpage"', null],
  ])("%s", (_what, header, expected) => {
    expect(nextLink(header, base)).toBe(expected);
  });
});

describe("what errors say", () => {
  it("gives Prisma's explanation without its call site, file paths or stack", () => {
    const prismaLike = Object.assign(new Error("\nInvalid `prisma().import.update()` invocation in\n/work/main/src/imports/lease.ts:42:11\n\n  41 x\n→ 42 y\nUnique constraint failed on the fields: (`dataset`)"), { code: "P2002" });
    expect(describeError(prismaLike)).toBe("Database error P2002: Unique constraint failed on the fields: (`dataset`)");
    expect(describeError(new TypeError("Cannot read properties of undefined (reading 'x') at /app/src/a.ts:3:4"))).toBe("Internal error: Cannot read properties of undefined (reading 'x') at [file]");
    expect(describeError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }))).toMatch(/^Database unavailable/);
  });

  it("tells an unreachable database from a bad statement", () => {
    expect(isDatabaseUnavailable(Object.assign(new Error("x"), { code: "ECONNREFUSED" }))).toBe(true);
    expect(isDatabaseUnavailable(new AggregateError([Object.assign(new Error("a"), { code: "ECONNREFUSED" })]))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error("x"), { code: "P2010", meta: { driverAdapterError: { cause: { kind: "DatabaseNotReachable" } } } }))).toBe(true);
    expect(isDatabaseUnavailable(new Error("Connection terminated unexpectedly"))).toBe(true);
    // ALLOW_CONNECTIONS false: "database … is not currently accepting connections", as pg and as Prisma's adapter carry it.
    expect(isDatabaseUnavailable(Object.assign(new Error('database "x" is not currently accepting connections'), { code: "55000" }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error("x"), { code: "P2010", meta: { driverAdapterError: { cause: { originalCode: "55000", kind: "postgres" } } } }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error("duplicate key"), { code: "23505" }))).toBe(false);
    expect(isDatabaseUnavailable(Object.assign(new Error("x"), { code: "P2002" }))).toBe(false);
    expect(isDatabaseUnavailable(new Error("syntax error at or near"))).toBe(false);
  });
});

describe("secrets", () => {
  it("parses grants and refuses what is not NAME@host[:port]", () => {
    expect(parseGrant("TMDB_KEY@api.themoviedb.org")).toEqual({ name: "TMDB_KEY", host: "api.themoviedb.org", port: null });
    expect(parseGrant("K@Example.COM:8443")).toEqual({ name: "K", host: "example.com", port: 8443 });
    expect(parseGrant("K@[::1]:80")).toEqual({ name: "K", host: "[::1]", port: 80 });
    for (const bad of ["K", "@host", "K@", "K@host:0", "K@host:70000", "1K@host", "K@ho st", "K@host/path"]) expect([bad, parseGrant(bad)]).toEqual([bad, null]);
  });

  it("redacts a granted secret's value, raw and URL-encoded, everywhere in a value", () => {
    configureSecrets([{ name: "K", host: "h", port: null }], { K: "a b/c+d" });
    try {
      expect(redactText("x a b/c+d y a%20b%2Fc%2Bd z a+b%2Fc%2Bd")).toBe("x [redacted:K] y [redacted:K] z [redacted:K]");
      expect(redactDeep({ list: ["a b/c+d"], nested: { "a b/c+d": 1 } })).toEqual({ list: ["[redacted:K]"], nested: { "[redacted:K]": 1 } });
      const error = redactDeep(Object.assign(new Error("failed with a b/c+d"), { code: "E1" }));
      expect([error.message, (error as Error & { code: string }).code, error.stack?.includes("a b/c+d")]).toEqual(["failed with [redacted:K]", "E1", false]);
    } finally {
      configureSecrets([]);
    }
  });
});

describe("a rejection nobody handles", () => {
  it("is logged as an outage when it says the database is away, as a bug otherwise, each cause once", () => {
    const lines: { level: number; msg: string }[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const report = createRejectionReporter(log);
    const outage = () => Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    report(outage());
    report(outage());
    report(new TypeError("Cannot read properties of undefined (reading 'id')"));
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      [40, "a database call failed during the outage with nobody waiting for it; the work it belonged to is retried"],
      [50, "unhandled promise rejection (a bug: please report it); the service keeps running"],
    ]);
  });
});
