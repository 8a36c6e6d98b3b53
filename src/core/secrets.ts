/**
 * Secrets in configs are references, `{ "$env": "NAME" }`: stored as such,
 * resolved only when a request is made, shown as "[redacted:NAME]".
 */
export type EnvRef = { $env: string };

/** A value with its references resolved to the strings they stand for. */
export type Resolved<T> = T extends EnvRef ? string : T extends (infer U)[] ? Resolved<U>[] : T extends object ? { [K in keyof T]: Resolved<T[K]> } : T;

export function isEnvRef(value: unknown): value is EnvRef {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).length === 1 &&
    typeof (value as EnvRef).$env === "string"
  );
}

/** Thrown when a referenced variable is not set where the work runs. */
export class MissingSecretError extends Error {
  override name = "MissingSecretError";
  constructor(readonly variable: string) {
    super(`The environment variable ${variable} (referenced as {"$env": "${variable}"}) is not set on the worker`);
  }
}

function mapRefs(value: unknown, replace: (ref: EnvRef) => unknown): unknown {
  if (isEnvRef(value)) return replace(value);
  if (Array.isArray(value)) return value.map((item) => mapRefs(item, replace));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, mapRefs(inner, replace)]));
  }
  return value;
}

/** The value with every reference replaced by the variable's value. */
export function resolveSecrets<T>(value: T, env: NodeJS.ProcessEnv = process.env): Resolved<T> {
  return mapRefs(value, (ref) => {
    const secret = env[ref.$env];
    if (secret === undefined) throw new MissingSecretError(ref.$env);
    return secret;
  }) as Resolved<T>;
}

/** The value as it may be shown: every reference becomes "[redacted:NAME]". */
export function redactSecrets<T>(value: T): T {
  return mapRefs(value, (ref) => `[redacted:${ref.$env}]`) as T;
}
