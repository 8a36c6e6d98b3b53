import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { release, track } from "./resources.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface ServiceProcess {
  child: ChildProcess;
  /** The GraphQL URL (api and all roles). */
  url?: string;
  output(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }>;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }>;
}

/**
 * Runs a TypeScript entry point of this repository in a child Node process,
 * as `npm start` does. Resolves once a JSON log line with `msg` = `readyMsg`
 * appears (pino's output), or rejects if the process exits first.
 */
export function spawnScript(script: string, env: Record<string, string>, readyMsg: string | null, timeoutMs = 30_000, args: string[] = [], stdin = false): Promise<ServiceProcess> {
  return spawnCommand([process.execPath, "--import", "tsx", script, ...args], env, readyMsg, { timeoutMs, stdin });
}

/**
 * Runs a command in this repository (e.g. `npm start`); see spawnScript.
 * `detached` puts it in a process group of its own, as a terminal does for
 * a job, so a test can send the group a Ctrl+C; `stdin` gives it a pipe to
 * answer prompts through (child.stdin). A process still running
 * when the test file ends is killed (its whole group, if detached).
 */
export async function spawnCommand(
  command: string[],
  env: Record<string, string>,
  readyMsg: string | null,
  options: { timeoutMs?: number; detached?: boolean; stdin?: boolean } = {},
): Promise<ServiceProcess> {
  const { timeoutMs = 30_000, detached = false, stdin = false } = options;
  const script = command.join(" ");
  const child = spawn(command[0], command.slice(1), {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: "info", ...env },
    stdio: [stdin ? "pipe" : "ignore", "pipe", "pipe"],
    detached,
  });
  track(child, `child process ${script}`, () => {
    try {
      if (detached && child.pid) process.kill(-child.pid, "SIGKILL");
      else child.kill("SIGKILL");
    } catch {
      // already gone
    }
  });
  let output = "";
  let signalledAt = 0;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }>((resolve) => {
    child.once("close", (code, signal) => {
      release(child);
      resolve({ code, signal, afterMs: signalledAt ? Date.now() - signalledAt : 0 });
    });
  });
  const ready = new Promise<{ url?: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} was not ready within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (readyMsg === null) return;
      for (const line of output.split("\n").slice(0, -1)) {
        if (!line.startsWith("{")) continue;
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === readyMsg) {
          clearTimeout(timer);
          resolve({ url: entry.url });
        }
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${script} exited before it was ready:\n${output}`));
    });
    if (readyMsg === null) {
      clearTimeout(timer);
      resolve({});
    }
  });
  const { url } = await ready.catch(async (error) => {
    child.kill("SIGKILL");
    await exited;
    throw error;
  });
  return {
    child,
    url,
    output: () => output,
    exited,
    stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) {
        signalledAt = Date.now();
        child.kill(signal);
      }
      return exited;
    },
  };
}

/** Starts `src/server.ts` in a child process and waits for "milepost started". */
export function spawnService(env: Record<string, string>): Promise<ServiceProcess> {
  return spawnScript("src/server.ts", { HOST: "127.0.0.1", PORT: "0", ...env }, "milepost started");
}
