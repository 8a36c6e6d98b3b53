import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Api } from "./api.js";

export interface Session {
  api: Api;
  /** Whether this token may change work (OPERATOR or ADMIN): a VIEWER sees no action buttons. */
  canAct: boolean;
  viewer: string;
  /** Shows what an action answered (its error) in the page's notice line. */
  notify(message: string, error?: boolean): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  return useContext(SessionContext)!;
}
