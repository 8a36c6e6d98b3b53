import type { ServerResponse } from "node:http";
import sharp from "sharp";

/**
 * The demo's pages and images, for the processors: HTML pages with a
 * title (http-check), a redirect, a missing page, pages that hold what
 * PostgreSQL cannot store (a title that is half a surrogate pair, a 503
 * whose body holds NUL), one whose title is hostile (terminal escapes,
 * NUL), an SVG filter bomb, a long page sent in chunks with no length, and generated product images with a white border to trim
 * (image-normalize), plus an "image" that is an HTML error page.
 */
const PAGES: Record<string, { status: number; title?: string; location?: string; body?: string }> = {
  "/pages/home": { status: 200, title: "Milepost demo &amp; friends" },
  "/pages/moved": { status: 301, location: "/pages/home" },
  "/pages/missing": { status: 404, title: "Not found" },
  "/pages/refused": { status: 400, title: "Bad request" },
  // What a hostile site may put in a title: a terminal escape that clears the screen and renames the window, NUL, a bidi override.
  "/pages/hostile": { status: 200, title: "\u001b[2J\u001b]0;pwned\u0007Hostile&#27;[31m \u0000title\u202e" },
  "/pages/halfpair": { status: 200, title: "half a pair: &#xD800; (and a whole one: &#x1F600;)" },
  "/pages/unavailable": { status: 503, body: "down for maintenance\u0000 back soon" },
};

export const DEMO_PAGE_PATHS = /^\/(pages\/[a-z]+|images\/[a-z0-9-]+\.(png|jpg|svg))$/;

/**
 * 270 bytes that ask for 10,000 × 10,000 pixels of turbulence blurred by
 * 500: minutes of CPU and gigabytes to render (an "SVG filter bomb").
 */
export const SVG_BOMB = `<svg xmlns="http://www.w3.org/2000/svg" width="10000" height="10000"><filter id="f" x="0" y="0" width="1" height="1"><feTurbulence baseFrequency="0.9" numOctaves="10"/><feGaussianBlur stdDeviation="500"/></filter><rect width="100%" height="100%" filter="url(#f)"/></svg>`;

/**
 * A poster: a coloured rectangle of `width`×`height` (taller than wide)
 * inside a white border (what trim removes). A rotated one is stored as a
 * camera would store a photo taken sideways: the same pixels, with EXIF
 * orientation 6 (turn 90° clockwise to show it), so it shows wider than tall.
 */
async function poster(seed: number, format: "png" | "jpg", rotated: boolean): Promise<Buffer> {
  const [width, height] = [300 + (seed % 7) * 40, 500 + (seed % 5) * 30];
  const colour = { r: (seed * 67) % 256, g: (seed * 131) % 256, b: (seed * 29) % 256 };
  const image = sharp({ create: { width, height, channels: 3, background: colour } }).extend({ top: 40, bottom: 40, left: 60, right: 60, background: "white" });
  if (rotated) image.withMetadata({ orientation: 6 });
  return format === "png" ? image.png().toBuffer() : image.jpeg({ quality: 90 }).toBuffer();
}

/** Answers a page or image path (relative to the demo's mount point). */
export async function answerPage(path: string, base: string, response: ServerResponse): Promise<void> {
  const page = PAGES[path];
  if (page) {
    const headers: Record<string, string> = { "content-type": "text/html; charset=utf-8" };
    if (page.location) headers.location = `${base}${page.location}`;
    response.writeHead(page.status, headers);
    return void response.end(page.title ? `<!doctype html><html><head><title>\n  ${page.title}\n</title></head><body>demo</body></html>` : (page.body ?? ""));
  }
  if (path === "/pages/long") {
    // 1 MiB in 64 chunks and no content-length: what a reader that stops early cannot know the size of.
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.write("<!doctype html><html><head><title>A long page</title></head><body>");
    for (let chunk = 0; chunk < 64; chunk++) response.write("x".repeat(16 * 1024));
    return void response.end("</body></html>");
  }
  if (path === "/images/bomb.svg") {
    response.writeHead(200, { "content-type": "image/svg+xml" });
    return void response.end(SVG_BOMB);
  }
  const image = /^\/images\/poster-(\d+)(-rotated)?\.(png|jpg)$/.exec(path);
  if (image) {
    const body = await poster(Number(image[1]), image[3] as "png" | "jpg", image[2] !== undefined);
    response.writeHead(200, { "content-type": image[3] === "png" ? "image/png" : "image/jpeg", "content-length": body.length });
    return void response.end(body);
  }
  response.writeHead(path === "/images/broken.png" ? 200 : 404, { "content-type": "text/html" });
  response.end("<html><body>This is not an image (demo)</body></html>");
}
