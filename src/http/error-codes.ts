import type { ExecutionResult } from "graphql";
import type { Plugin } from "graphql-yoga";
import { withContractCode } from "../schema/errors.js";

/** Gives every error of an HTTP response a contract code (see withContractCode). */
export function useContractErrorCodes(): Plugin {
  const fix = (result: ExecutionResult): ExecutionResult =>
    result.errors?.length ? { ...result, errors: result.errors.map(withContractCode) } : result;
  return {
    onResultProcess({ result, setResult }) {
      if (Symbol.asyncIterator in result) return; // streamed results come from execution, already masked
      setResult(Array.isArray(result) ? result.map(fix) : fix(result));
    },
  };
}
