import { z } from "zod";
import { egressPolicy, urlRefusal } from "../egress/policy.js";

/**
 * zod pieces for the configs of sources, processors and collectors, shared
 * by the built-ins and exported to plugins, so every definition checks URLs
 * and secret references the same way when work is started.
 */

/**
 * An absolute http or https URL: anything else (file:, data:, javascript:)
 * is refused when work starts, and so is one the egress policy refuses
 * before any DNS (credentials in it; an address or loopback name
 * MILEPOST_EGRESS does not allow). A name is judged again on its address at
 * every connect.
 */
export function httpUrl() {
  return z.url({ protocol: /^https?$/, error: "must be an http or https URL" }).superRefine((text, ctx) => {
    const refusal = urlRefusal(egressPolicy(), new URL(text));
    if (refusal) ctx.addIssue({ code: "custom", message: refusal });
  });
}

/** `{ "$env": "NAME" }`: a secret the HTTP client resolves for the hosts MILEPOST_SECRETS grants it to. */
export const secretRef = z.object({ $env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name") }).strict();

/** A plain value, or a secret reference in its place. */
export function secretOr<T extends z.ZodType>(plain: T) {
  return z.union([plain, secretRef]);
}
