import { afterAll, expect } from "vitest";
import { stillOpen } from "./resources.js";

afterAll(() => {
  expect(stillOpen(), "servers, sockets or processes left open by this test file").toEqual([]);
});
