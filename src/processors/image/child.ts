import { normaliseImage, NotAnImageError } from "./convert.js";

// The image child process: the input on stdin, `{ allowSvg }` as argv[2], the WebP on stdout.
// Exit 0: done; 3: not an image (the reason on stderr); anything else: it broke (or was killed).

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const options = JSON.parse(process.argv[2] ?? "{}") as { allowSvg?: boolean };
try {
  const webp = await normaliseImage(Buffer.concat(chunks), { allowSvg: options.allowSvg === true });
  process.stdout.end(webp);
} catch (error) {
  process.stderr.write((error as Error).message);
  process.exitCode = error instanceof NotAnImageError ? 3 : 1;
}
