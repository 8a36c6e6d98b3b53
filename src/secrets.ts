/**
 * Secrets in configs are references, `{ "$env": "NAME" }`: stored as such,
 * resolved only by the HTTP client for a request to a host the server's
 * owner allowed in MILEPOST_SECRETS, and shown as "[redacted:NAME]". A
 * config can never carry one of the server's own variables (its database
 * URL, its admin token) to a place the owner did not name.
 */
export type EnvRef = { $env: string };

/** One MILEPOST_SECRETS entry, `NAME@host[:port]`: NAME may be sent to that host (and port) only. */
export interface SecretGrant {
  name: string;
  host: string;
  port: number | null;
}

const GRANT = /^([A-Za-z_][A-Za-z0-9_]*)@(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/;

/** Parses one `NAME@host[:port]` entry; null when it is not one. */
export function parseGrant(entry: string): SecretGrant | null {
  const match = GRANT.exec(entry.trim());
  if (!match) return null;
  const port = match[3] === undefined ? null : Number(match[3]);
  if (port !== null && (port < 1 || port > 65535)) return null;
  return { name: match[1], host: match[2].toLowerCase(), port };
}

/** Values shorter than this are not searched for when redacting: they would blot out ordinary text. */
const MIN_REDACTED_LENGTH = 4;

let grants: readonly SecretGrant[] = [];
let environment: NodeJS.ProcessEnv = process.env;

/** Sets the process's allow-list (MILEPOST_SECRETS), once at start. */
export function configureSecrets(allowed: readonly SecretGrant[], env: NodeJS.ProcessEnv = process.env): void {
  grants = allowed;
  environment = env;
}

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

/** A config references a variable MILEPOST_SECRETS does not list. */
export class SecretNotAllowedError extends Error {
  override name = "SecretNotAllowedError";
  constructor(
    readonly variable: string,
    /** Where in the config, e.g. ["query", "api_key"]. */
    readonly path: string[],
  ) {
    super(
      `{"$env": "${variable}"} is not allowed: the server sends an environment variable only to the hosts MILEPOST_SECRETS names. ` +
        `To allow it, add ${variable}@<host>[:port] to MILEPOST_SECRETS on every process and restart them.`,
    );
  }
}

function mapRefs(value: unknown, replace: (ref: EnvRef, path: string[]) => unknown, path: string[] = []): unknown {
  if (isEnvRef(value)) return replace(value, path);
  if (Array.isArray(value)) return value.map((item, index) => mapRefs(item, replace, [...path, String(index)]));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, mapRefs(inner, replace, [...path, key])]));
  }
  return value;
}

/** Throws SecretNotAllowedError for the first reference MILEPOST_SECRETS does not list (checked when work is started). */
export function assertSecretsAllowed(config: unknown): void {
  mapRefs(config, (ref, path) => {
    if (!grants.some((grant) => grant.name === ref.$env)) throw new SecretNotAllowedError(ref.$env, path);
    return ref;
  });
}

/** Whether NAME may be sent to this URL: its host (and port, when the grant names one) match a grant of NAME. */
export function mayReceive(name: string, url: URL): boolean {
  const host = url.hostname.toLowerCase();
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  return grants.some((grant) => grant.name === name && grant.host === host && (grant.port === null || grant.port === port));
}

/**
 * The value of a reference for a request to `url`, or null when the
 * allow-list does not let it go there (the request then goes without it).
 */
export function secretFor(ref: EnvRef, url: URL): string | null {
  if (!mayReceive(ref.$env, url)) return null;
  const value = environment[ref.$env];
  if (value === undefined) throw new MissingSecretError(ref.$env);
  return value;
}

/** The value as it may be shown: every reference becomes "[redacted:NAME]". */
export function redactSecrets<T>(value: T): T {
  return mapRefs(value, (ref) => `[redacted:${ref.$env}]`) as T;
}

/** [value, NAME] of every allowed secret that is set, longest first (so a value inside another is not half-replaced). */
function secretValues(): [string, string][] {
  const pairs = new Map<string, string>();
  for (const { name } of grants) {
    const value = environment[name];
    if (value && value.length >= MIN_REDACTED_LENGTH) {
      pairs.set(value, name);
      pairs.set(encodeURIComponent(value), name);
      pairs.set(new URLSearchParams({ v: value }).toString().slice(2), name);
    }
  }
  return [...pairs].sort(([a], [b]) => b.length - a.length);
}

/**
 * Text with the value of every allowed secret, raw or URL-encoded, replaced
 * by "[redacted:NAME]". Everything written where a reader may see it (error
 * rows, events, logs, checkpoint positions) passes through this one
 * function, so a value that came back from an upstream (an echoed URL, a
 * Link header) is not shown either.
 */
export function redactText(text: string): string {
  let result = text;
  for (const [value, name] of secretValues()) {
    if (result.includes(value)) result = result.split(value).join(`[redacted:${name}]`);
  }
  return result;
}

/** redactText applied to every string (and key) of a JSON-like value; other values pass unchanged. */
export function redactDeep<T>(value: T): T {
  if (grants.length === 0) return value;
  const walk = (inner: unknown): unknown => {
    if (typeof inner === "string") return redactText(inner);
    if (Array.isArray(inner)) return inner.map(walk);
    if (inner instanceof Error) {
      const copy = Object.assign(new Error(redactText(inner.message)), walk({ ...inner }) as object);
      return Object.assign(copy, { name: inner.name, stack: inner.stack && redactText(inner.stack), ...(inner.cause !== undefined ? { cause: walk(inner.cause) } : {}) });
    }
    if (inner && typeof inner === "object" && !(inner instanceof Date)) {
      return Object.fromEntries(Object.entries(inner).map(([key, item]) => [redactText(key), walk(item)]));
    }
    return inner;
  };
  return walk(value) as T;
}
