import { createHash } from "node:crypto";
import { z } from "zod";
import { prisma } from "../db/client.js";
import { httpUrl } from "../engine/config-schemas.js";
import { defineProcessor, PermanentError } from "../engine/processor.js";
import { SIDE } from "./image/convert.js";
import { normaliseInChild, type ImageBudget } from "./image/sandbox.js";

/** Larger downloads are refused: no product photo needs more. */
const MAX_IMAGE_BYTES = 25 * 1024 * 1024;

/** Where a stored file is served (to holders of a token). */
export function fileUrl(id: string): string {
  return `/files/${id}.webp`;
}

/**
 * Normalises a product image, the image-processing case done locally with
 * sharp, in a child process with a time and memory budget (see
 * ./image/sandbox.ts): orientation from EXIF applied, transparency
 * flattened onto white, uniform borders trimmed, fitted inside 1024×1024 on
 * a white square, WebP. The file is stored in the database (so any api
 * process serves it) under an id derived from the URL: a retry, or the same
 * image queued twice, writes the same file. An answer that is not an image
 * (or an SVG, unless allowed) fails the item at once.
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
      const id = createHash("sha256").update(url).digest("hex").slice(0, 32);
      const bytes = new Uint8Array(webp); // Prisma's Bytes wants a plain ArrayBuffer-backed array
      await prisma().storedFile.upsert({ where: { id }, create: { id, contentType: "image/webp", bytes }, update: { bytes, createdAt: new Date() } });
      await ctx.log("INFO", `stored ${fileUrl(id)} (${webp.length} bytes)`);
      return { width: SIDE, height: SIDE, bytes: webp.length, url: fileUrl(id) };
    },
  });
}
