import { existsSync } from "node:fs";
import { afterAll, beforeAll } from "vitest";
import { chromium, type Browser } from "playwright-core";
import { release, track } from "./resources.js";

/** Debian's Chromium, which .ci/run installs where it can. */
const CHROMIUM = "/usr/bin/chromium";

/** Whether the browser tests can run here; says once why not when they cannot. */
export function hasChromium(what: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  console.warn(`${what}: skipped, ${CHROMIUM} is missing (apt-get install chromium; .ci/run does where it can)`);
  return false;
}

/**
 * A headless Chromium for the test file, launched before its tests and
 * closed after them. This machine's network is closed: without the
 * background-networking flags, Chromium's own connections are refused
 * many at a time.
 */
export function useChromium(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = track(
      await chromium.launch({
        executablePath: CHROMIUM,
        args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      }),
      "browser",
    );
  });
  afterAll(async () => {
    await browser?.close();
    if (browser) release(browser);
  });
  return () => browser!;
}
