import pRetry, { AbortError } from "p-retry";
import { Agent, fetch, type Response } from "undici";
import type { Logger } from "../logger.js";
import { closedUntil, closeUpstream, cooldownKey } from "./cooldowns.js";
import { isEnvRef, redactText, secretFor, type EnvRef } from "../secrets.js";
import { EgressRefusedError, egressConnector, type Lookup } from "./egress-connector.js";
import { egressPolicy, isDemoUrl, urlRefusal } from "../egress/policy.js";

/** What a status code means for the work: the defaults below, or the caller's `responses` overrides. */
export type ResponseAction = "retry" | "skip" | "stop" | "fail";

/**
 * A rate limit that ends within this long is waited out in place; a longer
 * one puts the work in WAITING and frees the worker (docs/architecture.md, rule 6).
 */
export const INLINE_WAIT_MS = 5000;
/** Without Retry-After or X-RateLimit-Reset, a 429 closes the upstream this long. */
const DEFAULT_RATE_LIMIT_MS = 60_000;
/** One answer closes an upstream for at most a day, whatever it asks for: work is parked, not shelved for years. */
export const MAX_RATE_LIMIT_MS = 24 * 3600_000;
/** Backoff never waits longer than this between two attempts. */
const MAX_BACKOFF_MS = 5 * 60_000;
/** Enough of an error body to say what went wrong, not a whole HTML page. */
const BODY_EXCERPT = 300;
/** Redirects followed before the request counts as failed, as in browsers' and curl's defaults (20, 50) but tighter. */
const MAX_REDIRECTS = 5;
/** An answer larger than this is refused rather than held in memory. */
export const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
/** Headers that carry credentials: never sent on to another origin after a redirect (as curl and browsers do). */
const CREDENTIAL_HEADERS = new Set(["authorization", "proxy-authorization", "cookie"]);

export interface RetryPolicy {
  maxRetries: number;
  retryDelayMs: number;
  backoffFactor: number;
  timeoutMs: number;
}

/**
 * The upstream answered in a way that ends this request's unit of work
 * (skip: a page, an item), or the whole work (stop: done; fail).
 */
export class UpstreamError extends Error {
  override name = "UpstreamError";
  constructor(
    message: string,
    readonly action: "skip" | "stop" | "fail",
    readonly httpStatus: number | null,
    readonly attempts: number,
    /** A transient failure (network, timeout, 5xx) that outlasted its retries. */
    readonly transient = false,
  ) {
    super(message);
  }
}

/** The upstream is closed (rate limit) until `until`, too long to wait in place. */
export class RateLimitedError extends Error {
  override name = "RateLimitedError";
  constructor(
    readonly until: Date,
    readonly cooldownKey: string,
    readonly httpStatus: number | null,
  ) {
    super(`Rate limited by the upstream until ${until.toISOString()}`);
  }
}

class TransientError extends Error {
  constructor(
    message: string,
    readonly httpStatus: number | null,
  ) {
    super(message);
  }
}

/** A query or header value: plain, or a `{ "$env": NAME }` reference the client resolves per MILEPOST_SECRETS. */
export type ParamValue = string | number | boolean | EnvRef;

export interface HttpRequest {
  method?: string;
  /** Added to the URL's query (replacing parameters of the same name). */
  query?: Record<string, ParamValue>;
  headers?: Record<string, string | EnvRef>;
  body?: string;
  signal: AbortSignal;
  responses?: Record<string, ResponseAction>;
  /**
   * Whether a 4xx (other than 408 and rate limits) ends the work rather than
   * skipping this request: e.g. on a run's first request, where it means
   * the config is wrong (a bad URL, a missing key), not that one unit is bad.
   */
  clientErrorIsFatal?: boolean;
  /** Answers larger than this fail the request (default 32 MB)… */
  maxBytes?: number;
  /** …or, with this, are cut there (`truncated` says so). */
  truncate?: boolean;
  /** How long a rate limit lasts when the answer does not say (no Retry-After or X-RateLimit-Reset): the upstream's own rule, e.g. Podio's hour; 60 s by default. */
  rateLimitMs?: number;
  /** Statuses returned as they are, without the retry and skip rules (e.g. a checker for which a 404 is a result). */
  returnStatus?(status: number): boolean;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** The URL that answered, after redirects, without the secrets the client added. */
  url: string;
  body: Buffer;
  /** The body was longer than `maxBytes` and cut there (only with `truncate`). */
  truncated: boolean;
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  /** The URL that answered, after redirects, without the secrets the client added. */
  url: string;
  body: unknown;
}

/** The client every source and processor gets from the engine. */
export interface HttpClient {
  /** Any answer with a 2xx status, as bytes. */
  request(url: string, request: HttpRequest): Promise<HttpResponse>;
  /** A 2xx answer parsed as JSON; an answer that is not JSON is an UpstreamError (skip). */
  json(url: string, request: HttpRequest): Promise<JsonResponse>;
}

/** Retry-After (seconds or an HTTP date) or X-RateLimit-Reset (epoch seconds or seconds from now), at most MAX_RATE_LIMIT_MS away. */
export function rateLimitEnd(headers: Headers, now = Date.now(), unsaidMs = DEFAULT_RATE_LIMIT_MS): number {
  return Math.min(now + MAX_RATE_LIMIT_MS, askedEnd(headers, now, unsaidMs));
}

function askedEnd(headers: Headers, now: number, unsaidMs: number): number {
  const retryAfter = headers.get("retry-after");
  if (retryAfter) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return now + Math.max(0, seconds) * 1000;
    const date = Date.parse(retryAfter);
    if (Number.isFinite(date)) return Math.max(now, date);
  }
  const reset = Number(headers.get("x-ratelimit-reset"));
  if (Number.isFinite(reset) && reset > 0) {
    // Epoch seconds are > 1e9; smaller values are a delay in seconds.
    return reset > 1e9 ? Math.max(now, reset * 1000) : now + reset * 1000;
  }
  return now + unsaidMs;
}

function defaultAction(status: number, clientErrorIsFatal: boolean): ResponseAction | "rate-limit" | "ok" {
  if (status >= 200 && status < 300) return "ok";
  if (status === 429 || status === 420) return "rate-limit";
  if (status >= 500 || status === 408) return "retry";
  if (status >= 400 && status < 500 && clientErrorIsFatal) return "fail";
  return "skip";
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Reads at most `maxBytes` of the body: null when it is longer, unless `truncate` keeps what fits. */
async function readBody(response: Response, maxBytes: number, truncate = false): Promise<{ body: Buffer; truncated: boolean } | null> {
  if (!truncate && Number(response.headers.get("content-length") ?? 0) > maxBytes) {
    await response.body?.cancel();
    return null;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  for (let read = await reader?.read(); read && !read.done; read = await reader!.read()) {
    if (size + read.value.byteLength > maxBytes) {
      await reader!.cancel().catch(() => undefined);
      if (!truncate) return null;
      chunks.push(read.value.subarray(0, maxBytes - size));
      return { body: Buffer.concat(chunks), truncated: true };
    }
    size += read.value.byteLength;
    chunks.push(read.value);
  }
  return { body: Buffer.concat(chunks), truncated: false };
}

async function excerpt(response: Response): Promise<string> {
  const read = await readBody(response, 64 * 1024, true).catch(() => null);
  const text = read?.body.toString("utf8") ?? "";
  return text.length > BODY_EXCERPT ? `${text.slice(0, BODY_EXCERPT)}…` : text;
}

/** Where a request went, as messages show it: origin and path, never the query (it may hold a key). */
function place(url: URL): string {
  return redactText(`${url.origin}${url.pathname}`);
}

/** What one hop sends: the URL and headers with every reference resolved for that URL's host, and the values sent. */
interface Prepared {
  url: URL;
  headers: Record<string, string>;
  secrets: string[];
}

/**
 * Resolves references for the first hop. A reference the allow-list does not
 * grant to this host is left out (and said once in the log): the request
 * goes without it.
 */
function prepare(target: URL, request: HttpRequest, log: Logger): Prepared {
  const url = new URL(target);
  const headers: Record<string, string> = {};
  const secrets: string[] = [];
  const resolve = (value: ParamValue, where: string): string | null => {
    if (!isEnvRef(value)) return String(value);
    const secret = secretFor(value, url);
    if (secret === null) {
      warnOnce(log, `${value.$env}@${url.host}`, { variable: value.$env, host: url.host, where }, "a secret was not sent: MILEPOST_SECRETS does not grant it to this host");
      return null;
    }
    secrets.push(secret);
    return secret;
  };
  for (const [name, value] of Object.entries(request.query ?? {})) {
    const resolved = resolve(value, `query ${name}`);
    if (resolved === null) url.searchParams.delete(name);
    else url.searchParams.set(name, resolved);
  }
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    const resolved = resolve(value, `header ${name}`);
    if (resolved !== null) headers[name.toLowerCase()] = resolved;
  }
  return { url, headers, secrets };
}

/**
 * The next hop of a redirect. To another origin, nothing secret goes along:
 * no header that came from a reference or carries credentials, and no
 * query parameter holding a secret the upstream echoed into Location.
 */
function redirected(from: Prepared, location: string, secretHeaders: Set<string>): Prepared {
  const url = new URL(location, from.url);
  if (url.origin === from.url.origin) return { ...from, url };
  const headers = Object.fromEntries(Object.entries(from.headers).filter(([name]) => !secretHeaders.has(name) && !CREDENTIAL_HEADERS.has(name)));
  for (const [name, value] of [...url.searchParams]) {
    if (from.secrets.some((secret) => value.includes(secret))) url.searchParams.delete(name);
  }
  return { url, headers, secrets: [] };
}

/** The URL as callers may see it: every resolved secret taken out of the query. */
function shownUrl(prepared: Prepared, sent: string[]): string {
  const url = new URL(prepared.url);
  for (const [name, value] of [...url.searchParams]) {
    if (sent.some((secret) => value.includes(secret))) url.searchParams.delete(name);
  }
  return url.toString();
}

const warned = new Map<string, number>();
/** A repeated warning (the same secret refused for the same host on every page) is logged once a minute. */
function warnOnce(log: Logger, key: string, fields: Record<string, unknown>, message: string): void {
  const last = warned.get(key) ?? 0;
  if (Date.now() - last < 60_000) return;
  warned.set(key, Date.now());
  log.warn(fields, message);
}

/**
 * The HTTP client every source gets: http and https only, timeouts, retries
 * with exponential backoff for network errors, timeouts and 5xx (p-retry),
 * rate limits honoured across processes, each status mapped to what the
 * work does, secrets resolved per host under MILEPOST_SECRETS, redirects
 * followed without carrying secrets to another origin, answers capped in
 * size, and every connection, of every hop, made only where the egress
 * policy allows (MILEPOST_EGRESS), judged on the address connected to.
 */
export function createHttpClient(policy: RetryPolicy, log: Logger, options: { lookup?: Lookup } = {}): HttpClient {
  const connect = (allowDemo: boolean) => egressConnector({ timeoutMs: policy.timeoutMs, lookup: options.lookup, allowDemo });
  // The demo upstream may share the service's own origin: only requests under its path get the agent that may reach it.
  const agents = { work: new Agent({ connect: connect(false) }), demo: new Agent({ connect: connect(true) }) };
  const refused = (url: URL, reason: string) => new AbortError(new UpstreamError(`${place(url)} was not requested: ${reason}`, "fail", null, 1));

  async function attempt(first: Prepared, request: HttpRequest, key: string): Promise<HttpResponse> {
    const secretHeaders = new Set(Object.entries(request.headers ?? {}).filter(([, value]) => isEnvRef(value)).map(([name]) => name.toLowerCase()));
    for (;;) {
      const closed = await closedUntil(key);
      if (closed) {
        if (closed - Date.now() > INLINE_WAIT_MS) throw new AbortError(new RateLimitedError(new Date(closed), key, null));
        await sleep(closed - Date.now(), request.signal);
        continue;
      }
      let hop = first;
      let response: Response | undefined;
      const timeout = AbortSignal.timeout(policy.timeoutMs);
      try {
        for (let redirects = 0; ; redirects++) {
          const refusal = urlRefusal(egressPolicy(), hop.url);
          if (refusal) throw refused(hop.url, refusal);
          response = await fetch(hop.url, {
            dispatcher: isDemoUrl(egressPolicy(), hop.url) ? agents.demo : agents.work,
            method: redirects > 0 && request.method === "POST" ? "GET" : (request.method ?? "GET"),
            headers: { accept: "application/json", ...hop.headers },
            body: redirects > 0 ? undefined : request.body,
            redirect: "manual",
            signal: AbortSignal.any([request.signal, timeout]),
          });
          const location = response.headers.get("location");
          if (response.status < 300 || response.status > 399 || !location) break;
          await response.body?.cancel();
          if (redirects === MAX_REDIRECTS) throw new AbortError(new UpstreamError(`More than ${MAX_REDIRECTS} redirects from ${place(first.url)}`, "skip", response.status, 1));
          hop = redirected(hop, location, secretHeaders);
          if (hop.url.protocol !== "http:" && hop.url.protocol !== "https:") {
            throw new AbortError(new UpstreamError(`${place(first.url)} redirected to a ${hop.url.protocol} URL; only http and https are followed`, "skip", response.status, 1));
          }
        }
      } catch (error) {
        if (error instanceof AbortError) throw error;
        if ((error as Error).cause instanceof EgressRefusedError) throw refused(hop.url, ((error as Error).cause as Error).message);
        if (request.signal.aborted) throw new AbortError(request.signal.reason as Error);
        const timedOut = timeout.aborted;
        throw new TransientError(timedOut ? `No answer from ${place(first.url)} within ${policy.timeoutMs} ms` : `Network error calling ${place(first.url)}: ${redactText((error as Error).cause ? String(((error as Error).cause as Error).message ?? (error as Error).cause) : (error as Error).message)}`, null);
      }
      const override = request.responses?.[String(response.status)];
      const action = request.returnStatus?.(response.status) ? "ok" : (override ?? defaultAction(response.status, request.clientErrorIsFatal ?? false));
      if (action === "ok") {
        const maxBytes = request.maxBytes ?? DEFAULT_MAX_BYTES;
        const read = await readBody(response, maxBytes, request.truncate).catch((error: Error) => {
          throw new TransientError(`The answer of ${place(first.url)} broke off: ${redactText(error.message)}`, response!.status);
        });
        if (read === null) throw new AbortError(new UpstreamError(`The answer of ${place(first.url)} is larger than ${maxBytes} bytes`, "skip", response.status, 1));
        return { status: response.status, headers: response.headers, url: shownUrl(hop, first.secrets), body: read.body, truncated: read.truncated };
      }
      if (action === "rate-limit") {
        const until = rateLimitEnd(response.headers, Date.now(), request.rateLimitMs);
        await response.body?.cancel();
        await closeUpstream(key, first.url.origin, new Date(until), `HTTP ${response.status}`);
        log.info({ origin: first.url.origin, until: new Date(until).toISOString() }, "upstream rate limit");
        continue; // waits in place or throws RateLimitedError at the top
      }
      const message = `HTTP ${response.status} from ${place(hop.url)}: ${redactText(await excerpt(response))}`;
      if (action === "retry") throw new TransientError(message, response.status);
      throw new AbortError(new UpstreamError(message, action, response.status, 1));
    }
  }

  async function request(target: string, options: HttpRequest): Promise<HttpResponse> {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      throw new UpstreamError(`Not a URL: ${redactText(target.slice(0, 200))}`, "fail", null, 0);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new UpstreamError(`Only http and https URLs are fetched, not ${url.protocol}`, "fail", null, 0);
    }
    const first = prepare(url, options, log);
    const key = cooldownKey(url.origin, first.secrets.length ? JSON.stringify(first.secrets) : undefined);
    let attempts = 0;
    try {
      return await pRetry(
        () => {
          attempts++;
          return attempt(first, options, key);
        },
        {
          retries: policy.maxRetries,
          factor: policy.backoffFactor,
          minTimeout: policy.retryDelayMs,
          maxTimeout: MAX_BACKOFF_MS,
          randomize: false,
          signal: options.signal,
          onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
            if (retriesLeft > 0) log.debug({ url: place(url), attemptNumber, err: redactText(error.message) }, "retrying");
          },
        },
      );
    } catch (error) {
      if (error instanceof UpstreamError) throw new UpstreamError(error.message, error.action, error.httpStatus, attempts);
      if (error instanceof TransientError) throw new UpstreamError(error.message, "skip", error.httpStatus, attempts, true);
      throw error;
    }
  }

  return {
    request,
    async json(target, options) {
      const response = await request(target, options);
      const text = response.body.toString("utf8");
      try {
        return { status: response.status, headers: response.headers, url: response.url, body: JSON.parse(text) as unknown };
      } catch {
        const shown = redactText(text.slice(0, 80).replace(/\s+/g, " "));
        throw new UpstreamError(`The answer of ${place(new URL(target))} is not JSON: ${shown}${text.length > 80 ? "…" : ""}`, "skip", response.status, 1);
      }
    },
  };
}
