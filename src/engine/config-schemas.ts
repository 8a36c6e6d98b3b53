import { z } from "zod";

/**
 * zod pieces for the configs of sources, processors and collectors, shared
 * by the built-ins and exported to plugins, so every definition checks URLs
 * and secret references the same way when work is started.
 */

/** An absolute http or https URL: anything else (file:, data:, javascript:) is refused when work starts. */
export function httpUrl() {
  return z.url({ protocol: /^https?$/, error: "must be an http or https URL" });
}

/** `{ "$env": "NAME" }`: a secret the HTTP client resolves for the hosts MILEPOST_SECRETS grants it to. */
export const secretRef = z.object({ $env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name") }).strict();

/** A plain value, or a secret reference in its place. */
export function secretOr<T extends z.ZodType>(plain: T) {
  return z.union([plain, secretRef]);
}
