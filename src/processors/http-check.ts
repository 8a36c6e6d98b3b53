import { z } from "zod";
import { httpUrl } from "../engine/config-schemas.js";
import { plainText } from "../engine/plain-text.js";
import { defineProcessor } from "../engine/processor.js";

/** Enough of a page to find its <title>, without holding a large download. */
const READ_BYTES = 512 * 1024;
const TITLE_LENGTH = 300;

const input = z.union([
  z.object({ url: httpUrl() }).strict(),
  z.object({ domain: z.string().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i, "must be a domain name, e.g. example.com") }).strict(),
]);

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

/** The text of an HTML page's <title>, entities decoded, control characters dropped and whitespace collapsed; null when it has none. */
export function htmlTitle(html: string): string | null {
  const match = /<title[^>]*>([\s\S]*?)<\/title\s*>/i.exec(html);
  if (!match) return null;
  const text = match[1]
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (entity, code: string) => {
      if (code[0] === "#") {
        const point = code[1].toLowerCase() === "x" ? parseInt(code.slice(2), 16) : Number(code.slice(1));
        return point > 0 && point <= 0x10ffff ? String.fromCodePoint(point) : entity;
      }
      return ENTITIES[code.toLowerCase()] ?? entity;
    });
  // A page's title is shown in terminals and dashboards, on one line.
  const title = plainText(text, { oneLine: true });
  return title ? title.slice(0, TITLE_LENGTH) : null;
}

/**
 * Checks a URL or a domain (https://domain/): follows redirects (up to 5),
 * times out like every upstream call (API_TIMEOUT_MS), and answers what a
 * monitor wants. A 4xx is a result (`ok: false`), not a failure; connection
 * errors, timeouts and 5xx are retried, then fail the item.
 */
export const httpCheck = defineProcessor({
  name: "http-check",
  description: "Checks a URL or a domain: status, final URL after redirects, time, size, content type and HTML title.",
  input,
  async run(ctx, target) {
    const url = "url" in target ? target.url : `https://${target.domain.toLowerCase()}/`;
    const started = performance.now();
    const response = await ctx.http.request(url, {
      signal: ctx.signal,
      headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8", "user-agent": "milepost-http-check" },
      maxBytes: READ_BYTES,
      truncate: true,
      returnStatus: (status) => status < 500 && status !== 429 && status !== 420 && status !== 408,
    });
    const ms = Math.round(performance.now() - started);
    const contentType = response.headers.get("content-type");
    // A body cut at READ_BYTES has the size its content-length declares; without one (chunked), only a lower bound is known.
    const declared = response.headers.get("content-length");
    const complete = !response.truncated || declared !== null;
    const html = contentType?.includes("html") ? response.body.toString("utf8") : "";
    return {
      status: response.status,
      ok: response.status >= 200 && response.status < 400,
      finalUrl: response.url,
      ms,
      bytes: response.truncated && declared !== null ? Number(declared) : response.body.length,
      complete,
      contentType,
      title: html ? htmlTitle(html) : null,
    };
  },
});
