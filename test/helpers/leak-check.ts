import { afterAll, expect } from "vitest";
import { disposeAll, stillOpen } from "./resources.js";

afterAll(() => {
  const left = stillOpen();
  disposeAll();
  expect(left, "servers, sockets or processes left open by this test file").toEqual([]);
});
