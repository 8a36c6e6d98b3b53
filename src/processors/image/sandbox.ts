import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PermanentError } from "../../engine/processor.js";

const CHILD = fileURLToPath(new URL("./child.ts", import.meta.url));
/** tsx by its own path: the child's working directory need not be this repository. */
const TSX = import.meta.resolve("tsx");
/** Stderr kept from the child: enough for sharp's reason. */
const MAX_STDERR = 4096;

export interface ImageBudget {
  /** Wall time the child may take (IMAGE_BUDGET_MS). */
  timeMs: number;
  /** Memory (data) the child may allocate, in MB (IMAGE_MEMORY_MB). */
  memoryMb: number;
  allowSvg: boolean;
}

/**
 * Normalises an image in a child process of its own, so the work can be
 * stopped whatever it is doing: libvips runs in native threads that neither
 * an AbortSignal nor a worker thread's terminate() can interrupt. The child
 * gets a data limit (ulimit -d: what malloc and libvips take; an
 * address-space limit would also count the reservations WebAssembly makes,
 * which tsx needs) and a time budget, and is killed
 * (SIGKILL) when the budget runs out or `signal` aborts (a cancel, the
 * attempt's deadline, a shutdown).
 */
export function normaliseInChild(input: Buffer, budget: ImageBudget, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const args = [process.execPath, "--import", TSX, CHILD, JSON.stringify({ allowSvg: budget.allowSvg })].map((arg) => `'${arg.replace(/'/g, "'\\''")}'`).join(" ");
    const child = spawn("/bin/sh", ["-c", `ulimit -d ${budget.memoryMb * 1024} && exec ${args}`], { stdio: ["pipe", "pipe", "pipe"] });
    const output: Buffer[] = [];
    let errors = "";
    let stopped: Error | null = null;
    const kill = (why: Error) => {
      stopped ??= why;
      child.kill("SIGKILL");
    };
    const timer = setTimeout(() => kill(new Error(`the image took longer than IMAGE_BUDGET_MS (${budget.timeMs} ms) and was stopped`)), budget.timeMs);
    const onAbort = () => kill(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    child.stdout.on("data", (chunk: Buffer) => output.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => (errors = `${errors}${chunk.toString()}`.slice(0, MAX_STDERR)));
    child.stdin.on("error", () => undefined); // a child killed early closes its stdin
    child.stdin.end(input);
    child.once("error", (error) => kill(error));
    child.once("close", (code) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      if (stopped) return reject(stopped);
      if (code === 0) return resolve(Buffer.concat(output));
      if (code === 3) return reject(new PermanentError(errors.trim()));
      reject(new Error(`the image process failed (exit ${code}${/memory|alloc/i.test(errors) ? `, over IMAGE_MEMORY_MB (${budget.memoryMb} MB)` : ""}): ${errors.trim().slice(0, 500)}`));
    });
  });
}
