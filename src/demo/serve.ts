// Runs the demo upstream on its own, e.g. to point an `http-json` import at it
// from another machine, or to keep its work off a benchmarked process:
//
//   npm run demo:upstream -- --items 100000 --page-size 200 --port 4100 --error-every 7
//
// Prints one JSON line with its URL, and stops on SIGTERM or SIGINT.
import { parseArgs } from "node:util";
import { startDemoServer } from "./upstream.js";

const { values } = parseArgs({
  options: {
    items: { type: "string", default: "10000" },
    "page-size": { type: "string", default: "20" },
    port: { type: "string", default: "0" },
    // 2: every 10th movie changed and 5 added, to see updated and new counts on a re-import.
    "catalogue-version": { type: "string", default: "1" },
    "latency-ms": { type: "string", default: "0" },
    "error-every": { type: "string", default: "0" },
    "rate-limit-every": { type: "string", default: "0" },
  },
});
const number = (name: keyof typeof values, min = 0): number => {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < min) {
    console.error(`--${name} must be a whole number ≥ ${min}, got "${values[name]}"`);
    process.exit(2);
  }
  return value;
};
const demo = await startDemoServer(
  {
    items: number("items"),
    pageSize: number("page-size", 1),
    version: number("catalogue-version", 1),
    faults: { latencyMs: number("latency-ms"), errorEvery: number("error-every"), rateLimitEvery: number("rate-limit-every") },
  },
  number("port"),
);
console.log(JSON.stringify({ url: demo.url, endpoints: ["/3/movie/popular", "/offset/movies", "/cursor/movies", "/link/movies"] }));
const stop = () => void demo.close().then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
