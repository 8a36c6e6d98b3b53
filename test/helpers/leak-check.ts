import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, expect } from "vitest";
import { disposeAll, stillOpen } from "./resources.js";

/** The user's admin token, which no test may write (it is shown once: overwritten, it is lost). */
const USER_TOKEN = fileURLToPath(new URL("../../.data/admin-token", import.meta.url));
const written = () => {
  try {
    return statSync(USER_TOKEN).mtimeMs;
  } catch {
    return null;
  }
};
const before = written();

afterAll(() => {
  const left = stillOpen();
  disposeAll();
  expect(left, "servers, sockets or processes left open by this test file").toEqual([]);
  expect(written(), "this test file wrote the user's .data/admin-token").toBe(before);
});
