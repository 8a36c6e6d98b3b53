import pRetry, { AbortError } from "p-retry";
import type { Logger } from "../logger.js";
import { closedUntil, closeUpstream, cooldownKey } from "./cooldowns.js";

/** What a status code means for the work: the defaults below, or a source's `responses` overrides. */
export type ResponseAction = "retry" | "skip" | "stop" | "fail";

/**
 * A rate limit that ends within this long is waited out in place; a longer
 * one puts the work in WAITING and frees the worker (DESIGN.md rule 6).
 */
export const INLINE_WAIT_MS = 5000;
/** Without Retry-After or X-RateLimit-Reset, a 429 closes the upstream this long. */
const DEFAULT_RATE_LIMIT_MS = 60_000;
/** Backoff never waits longer than this between two attempts. */
const MAX_BACKOFF_MS = 5 * 60_000;
/** Enough of an error body to say what went wrong, not a whole HTML page. */
const BODY_EXCERPT = 300;

export interface RetryPolicy {
  maxRetries: number;
  retryDelayMs: number;
  backoffFactor: number;
  timeoutMs: number;
}

/** The upstream answered in a way that ends this page (skip), or the whole import (stop, fail). */
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

export interface JsonRequest {
  method?: string;
  headers?: Record<string, string>;
  signal: AbortSignal;
  responses?: Record<string, ResponseAction>;
  /** The secret the request is made with, so a rate limit applies to that credential only. */
  credential?: string;
  /** Whether a 401/403 ends the import (true on a first page) rather than skipping the page. */
  authFailureIsFatal?: boolean;
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

export interface HttpClient {
  json(url: string, request: JsonRequest): Promise<JsonResponse>;
}

/** Retry-After (seconds or an HTTP date) or X-RateLimit-Reset (epoch seconds or seconds from now). */
export function rateLimitEnd(headers: Headers, now = Date.now()): number {
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
  return now + DEFAULT_RATE_LIMIT_MS;
}

function defaultAction(status: number, authFailureIsFatal: boolean): ResponseAction | "rate-limit" | "ok" {
  if (status >= 200 && status < 300) return "ok";
  if (status === 429 || status === 420) return "rate-limit";
  if (status >= 500 || status === 408) return "retry";
  if ((status === 401 || status === 403) && authFailureIsFatal) return "fail";
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

async function excerpt(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  return text.length > BODY_EXCERPT ? `${text.slice(0, BODY_EXCERPT)}…` : text;
}

/**
 * The HTTP client every source gets: timeouts, retries with exponential
 * backoff for network errors, timeouts and 5xx (p-retry), rate limits
 * honoured across processes, and each status mapped to what the import does.
 */
export function createHttpClient(policy: RetryPolicy, log: Logger): HttpClient {
  async function attempt(url: URL, request: JsonRequest, key: string): Promise<JsonResponse> {
    for (;;) {
      const closed = await closedUntil(key);
      if (closed) {
        if (closed - Date.now() > INLINE_WAIT_MS) throw new AbortError(new RateLimitedError(new Date(closed), key, null));
        await sleep(closed - Date.now(), request.signal);
        continue;
      }
      let response: Response;
      try {
        response = await fetch(url, {
          method: request.method ?? "GET",
          headers: { accept: "application/json", ...request.headers },
          signal: AbortSignal.any([request.signal, AbortSignal.timeout(policy.timeoutMs)]),
        });
      } catch (error) {
        if (request.signal.aborted) throw new AbortError(request.signal.reason as Error);
        const timedOut = (error as Error).name === "TimeoutError";
        throw new TransientError(timedOut ? `No answer within ${policy.timeoutMs} ms` : `Network error: ${(error as Error).message}`, null);
      }
      const override = request.responses?.[String(response.status)];
      const action = override ?? defaultAction(response.status, request.authFailureIsFatal ?? false);
      if (action === "ok") {
        const text = await response.text();
        try {
          return { status: response.status, headers: response.headers, body: JSON.parse(text) };
        } catch {
          throw new TransientError(`The answer is not JSON: ${text.slice(0, 80)}`, response.status);
        }
      }
      if (action === "rate-limit") {
        const until = rateLimitEnd(response.headers);
        await response.body?.cancel();
        await closeUpstream(key, url.origin, new Date(until), `HTTP ${response.status}`);
        log.info({ origin: url.origin, until: new Date(until).toISOString() }, "upstream rate limit");
        continue; // waits in place or throws RateLimitedError at the top
      }
      const message = `HTTP ${response.status} from ${url.origin}${url.pathname}: ${await excerpt(response)}`;
      if (action === "retry") throw new TransientError(message, response.status);
      throw new AbortError(new UpstreamError(message, action, response.status, 1));
    }
  }

  return {
    async json(target, request) {
      const url = new URL(target);
      const key = cooldownKey(url.origin, request.credential);
      let attempts = 0;
      try {
        return await pRetry(
          () => {
            attempts++;
            return attempt(url, request, key);
          },
          {
            retries: policy.maxRetries,
            factor: policy.backoffFactor,
            minTimeout: policy.retryDelayMs,
            maxTimeout: MAX_BACKOFF_MS,
            randomize: false,
            signal: request.signal,
            onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
              if (retriesLeft > 0) log.debug({ url: target, attemptNumber, err: error.message }, "retrying");
            },
          },
        );
      } catch (error) {
        if (error instanceof UpstreamError) throw new UpstreamError(error.message, error.action, error.httpStatus, attempts);
        if (error instanceof TransientError) throw new UpstreamError(error.message, "skip", error.httpStatus, attempts, true);
        throw error;
      }
    },
  };
}
