import sharp from "sharp";

/** The square every image is fitted into, on white. */
export const SIDE = 1024;
const WHITE = { r: 255, g: 255, b: 255, alpha: 1 };
/** Pixels an input may have: 100 megapixels, more than any product photo. */
const MAX_INPUT_PIXELS = 100_000_000;

/** An input sharp refuses, or an SVG while SVG is not allowed: retrying cannot change it. */
export class NotAnImageError extends Error {
  override name = "NotAnImageError";
}

/**
 * The image normalised: orientation from EXIF applied, transparency
 * flattened onto white, uniform borders trimmed, fitted inside SIDE×SIDE on
 * a white square, as WebP. SVG, which is a program more than a picture (a
 * few hundred bytes of filters can take minutes of CPU and gigabytes), is
 * refused unless `allowSvg`.
 */
export async function normaliseImage(input: Buffer, options: { allowSvg: boolean }): Promise<Buffer> {
  let format: string | undefined;
  try {
    format = (await sharp(input, { failOn: "error", limitInputPixels: MAX_INPUT_PIXELS }).metadata()).format;
  } catch (error) {
    throw new NotAnImageError((error as Error).message);
  }
  if (format === "svg" && !options.allowSvg) throw new NotAnImageError("SVG input is refused (IMAGE_ALLOW_SVG=off): an SVG's filters can take minutes of CPU and gigabytes of memory");
  try {
    return await sharp(input, { failOn: "error", limitInputPixels: MAX_INPUT_PIXELS })
      .rotate()
      .flatten({ background: WHITE })
      .trim()
      .resize(SIDE, SIDE, { fit: "contain", background: WHITE })
      .webp({ quality: 85 })
      .toBuffer();
  } catch (error) {
    throw new NotAnImageError((error as Error).message);
  }
}
