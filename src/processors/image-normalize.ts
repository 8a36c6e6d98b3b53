import { z } from "zod";
import { httpUrl } from "../engine/config-schemas.js";
import { defineProcessor, PermanentError } from "../engine/processor.js";
import { SIDE } from "./image/convert.js";
import { normaliseInChild, type ImageBudget } from "./image/sandbox.js";

/** Larger downloads are refused: no product photo needs more. */
const MAX_IMAGE_BYTES = 25 * 1024 * 1024;

/**
 * Normalises a product image, the image-processing case done locally with
 * sharp, in a child process with a time and memory budget (see
 * ./image/sandbox.ts): orientation from EXIF applied, transparency
 * flattened onto white, uniform borders trimmed, fitted inside 1024×1024 on
 * a white square, WebP. The file is stored in the database (so any api
 * process serves it) for the item, and goes with it: a retry writes the
 * same file. An answer that is not an image (or an SVG, unless allowed)
 * fails the item at once.
 */
export function imageNormalize(budget: ImageBudget) {
  return defineProcessor({
    name: "image-normalize",
    description: "Fetches an image, trims its borders, fits it inside a 1024×1024 white square and stores it as WebP, served at /files/<id>.webp.",
    input: z.object({ url: httpUrl() }).strict(),
    async run(ctx, { url }) {
      const response = await ctx.http.request(url, { signal: ctx.signal, headers: { accept: "image/*" }, maxBytes: MAX_IMAGE_BYTES });
      const webp = await normaliseInChild(response.body, budget, ctx.signal).catch((error: unknown) => {
        if (!(error instanceof PermanentError)) throw error;
        const type = response.headers.get("content-type") ?? "no content type";
        throw new PermanentError(`The answer of ${new URL(response.url).origin}${new URL(response.url).pathname} is not an image this service takes (${type}): ${error.message}`);
      });
      const stored = await ctx.storeFile("normalised", "image/webp", webp);
      await ctx.log("INFO", `stored ${stored} (${webp.length} bytes)`);
      return { width: SIDE, height: SIDE, bytes: webp.length, url: stored };
    },
  });
}
