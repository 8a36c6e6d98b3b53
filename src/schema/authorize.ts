import { getOperationAST } from "graphql";
import type { Plugin } from "graphql-yoga";
import { hasRole, type Role } from "../auth/tokens.js";
import type { Context } from "./context.js";
import { userError } from "./errors.js";

/** Throws FORBIDDEN unless the viewer has at least `role`. */
export function requireRole(ctx: Context, role: Role): void {
  if (!hasRole(ctx.viewer, role)) {
    throw userError("FORBIDDEN", `This needs the ${role} role; the token "${ctx.viewer.name}" is ${ctx.viewer.role}`);
  }
}

/**
 * Every mutation needs OPERATOR, checked once per operation so a new
 * mutation cannot be left open to VIEWER tokens by mistake; ADMIN-only
 * fields add requireRole(ctx, "ADMIN").
 */
export function useMutationRole(): Plugin<Context> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== "mutation") return;
      try {
        requireRole(args.contextValue, "OPERATOR");
      } catch (error) {
        setResultAndStopExecution({ errors: [error as ReturnType<typeof userError>] });
      }
    },
  };
}
