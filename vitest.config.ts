import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS and ESM builds; Node (and so graphql-yoga) loads the
    // CJS one, Vite would pick the ESM one for our code: two GraphQLError
    // classes, and Yoga would mask our errors as unexpected. Use Node's choice.
    alias: [{ find: /^graphql$/, replacement: require.resolve("graphql") }],
  },
  test: {
    globalSetup: ["test/helpers/global-setup.ts"],
    setupFiles: ["test/helpers/leak-check.ts"],
    include: ["test/**/*.test.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Child processes (npm start, workers) inherit these: tests' upstreams listen on loopback, which work may reach only when allowed.
    // The built-in demo answers at once in tests (its defaults pace it for people watching it).
    env: { LOG_LEVEL: "silent", MILEPOST_EGRESS: "127.0.0.1", DEMO_LATENCY_MS: "0", DEMO_RATE_LIMIT_EVERY: "0" },
  },
});
