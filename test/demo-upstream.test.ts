import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { release, track } from "./helpers/resources.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

function serve(...args: string[]) {
  const child = track(spawn(process.execPath, ["--import", "tsx", "src/demo/serve.ts", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] }), "demo upstream");
  const closed = once(child, "close").then(([code]) => {
    release(child);
    return code as number | null;
  });
  return { child, closed };
}

describe("the standalone demo upstream", () => {
  it("serves the catalogue it was asked for and stops on SIGTERM", async () => {
    const { child, closed } = serve("--items", "30", "--page-size", "10", "--catalogue-version", "2");
    const [line] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
    const { url } = JSON.parse(line) as { url: string };
    const last = (await (await fetch(`${url}/3/movie/popular?page=4`)).json()) as { total_results: number; results: { title: string }[] };
    expect(last.total_results).toBe(35); // version 2 adds five
    expect(last.results).toHaveLength(5);
    const first = (await (await fetch(`${url}/3/movie/popular?page=1`)).json()) as { results: { title: string }[] };
    expect(first.results[0].title).toContain("Director's Cut"); // and changes every 10th
    child.kill("SIGTERM");
    expect(await closed).toBe(0);
  });

  it("refuses a bad option with a clear message", async () => {
    const { child, closed } = serve("--page-size", "0");
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    expect(await closed).toBe(2);
    expect(stderr).toContain('--page-size must be a whole number ≥ 1, got "0"');
  });
});
