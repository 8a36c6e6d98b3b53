import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { spawnScript } from "./helpers/process.js";

describe("config", () => {
  it("has the documented defaults", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 4000,
      HOST: "127.0.0.1",
      MILEPOST_ROLE: "all",
      MILEPOST_PLUGINS: [],
      CHECKPOINT_EVERY: 5,
      MAX_RETRIES: 3,
      RETRY_DELAY_MS: 1000,
      BACKOFF_FACTOR: 2,
      API_TIMEOUT_MS: 30000,
      MILEPOST_AUTH: "on",
    });
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it("parses values and lists of plugins", () => {
    const config = loadConfig({ PORT: "8080", MILEPOST_PLUGINS: "./a.mjs, ./b.ts,", MILEPOST_ROLE: "worker", DATABASE_URL: "postgres://u@h:5432/db" });
    expect(config).toMatchObject({ PORT: 8080, MILEPOST_PLUGINS: ["./a.mjs", "./b.ts"], MILEPOST_ROLE: "worker" });
  });

  it("names every bad variable on a line of its own", () => {
    let error: unknown;
    try {
      loadConfig({ PORT: "eighty", MILEPOST_ROLE: "boss", CHECKPOINT_EVERY: "0", DATABASE_URL: "mysql://x/y" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const lines = (error as Error).message.split("\n");
    expect(lines[0]).toBe("Invalid configuration:");
    expect(lines.slice(1).map((line) => line.split("=")[0]).sort()).toEqual(["CHECKPOINT_EVERY", "DATABASE_URL", "MILEPOST_ROLE", "PORT"]);
  });

  it("stops `npm start` with those lines and exit code 1", async () => {
    const run = await spawnScript("src/server.ts", { PORT: "-1", MILEPOST_AUTH: "maybe", DATABASE_URL: "" }, null);
    const { code } = await run.exited;
    expect(code).toBe(1);
    expect(run.output()).toMatch(/^Invalid configuration:\nPORT="-1": .+\nMILEPOST_AUTH="maybe": .+\n$/);
  });
});
