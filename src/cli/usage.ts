/** A mistake in how the CLI was called: its message, the usage, and exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A command that could not be done (a token that does not exist, a line that was refused): exit code 1. */
export class CommandError extends Error {
  override name = "CommandError";
}

export interface Parsed {
  positional: string[];
  options: Map<string, string>;
  help: boolean;
}

/** `--name value`, `--name=value` and positional arguments; only the options a command names are allowed. */
export function parseArgs(argv: string[], allowed: readonly string[]): Parsed {
  const positional: string[] = [];
  const options = new Map<string, string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (!allowed.includes(name)) throw new UsageError(`unknown option --${name}${allowed.length ? ` (options: ${allowed.map((option) => `--${option}`).join(", ")})` : ""}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    options.set(name, value);
  }
  return { positional, options, help };
}

/** A whole number option within bounds, or a UsageError naming it. */
export function intOption(parsed: Parsed, name: string, min: number, max: number): number | undefined {
  const text = parsed.options.get(name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got "${text}")`);
  return value;
}
