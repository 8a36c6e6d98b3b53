import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { GraphQLFailure } from "./api.js";
import { useSession } from "./context.js";

/** A subscription's latest value (a subject's state: its first value is the state now). */
export function useLive<T>(query: string, variables: Record<string, unknown>): { data: T | null; error: GraphQLFailure | null } {
  const { api } = useSession();
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<GraphQLFailure | null>(null);
  const key = JSON.stringify(variables);
  useEffect(() => {
    setData(null);
    setError(null);
    return api.subscribe<T>(query, variables, setData, setError);
  }, [query, key]);
  return { data, error };
}

/** A query's answer, asked again by `reload` (at once) or `refresh` (at most once a second: for a burst of events). */
export function useQuery<T>(query: string, variables: Record<string, unknown>): { data: T | null; error: GraphQLFailure | null; reload(): void; refresh(): void } {
  const { api } = useSession();
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<GraphQLFailure | null>(null);
  const key = JSON.stringify(variables);
  const asked = useRef(0);
  const timer = useRef<number | undefined>(undefined);
  const last = useRef(0);
  const reload = useCallback(() => {
    const ask = ++asked.current;
    last.current = Date.now();
    api.request<T>(query, variables).then(
      (answer) => ask === asked.current && (setData(answer), setError(null)),
      (failure: GraphQLFailure) => ask === asked.current && setError(failure),
    );
  }, [query, key]);
  const refresh = useCallback(() => {
    if (timer.current !== undefined) return;
    timer.current = window.setTimeout(() => {
      timer.current = undefined;
      reload();
    }, Math.max(0, last.current + 1000 - Date.now()));
  }, [reload]);
  useEffect(() => {
    reload();
    return () => clearTimeout(timer.current);
  }, [reload]);
  return { data, error, reload, refresh };
}

export interface LiveEvent {
  id: string;
  kind: "PROGRESS" | "CHECKPOINT" | "LOG" | "STATUS";
  subjectKind: string;
  subjectId: string;
  at: string;
  level?: string;
  message?: string;
  from?: string | null;
  to?: string;
  reason?: string | null;
}

export const EVENT_FIELDS = "id kind subjectKind subjectId at ... on LogEvent { level message } ... on StatusEvent { from to reason }";

/** Calls `seen` for every event of the given kinds (of one subject, or of all, or of some kinds of subject) from now on. */
export function useEvents(kinds: string[], seen: (event: LiveEvent) => void, subject?: { kind: string; id: string }, subjectKinds?: string[]): void {
  const { api } = useSession();
  const handler = useRef(seen);
  handler.current = seen;
  const key = JSON.stringify([kinds, subject, subjectKinds]);
  useEffect(
    () =>
      api.subscribe<{ events: LiveEvent }>(
        `subscription($kinds: [EventKind!], $subject: SubjectInput, $subjectKinds: [SubjectKind!]) { events(kinds: $kinds, subject: $subject, subjectKinds: $subjectKinds) { ${EVENT_FIELDS} } }`,
        { kinds, subject, subjectKinds },
        (data) => handler.current(data.events),
      ),
    [key],
  );
}

/** Runs an action (a mutation), says how it went, and calls `done` after it worked. */
export function useAction() {
  const { api, notify } = useSession();
  const [busy, setBusy] = useState(false);
  const run = async <T,>(label: string, query: string, variables: Record<string, unknown> = {}, done?: (answer: T) => void) => {
    setBusy(true);
    try {
      const answer = await api.request<T>(query, variables);
      notify(`${label}: done`);
      done?.(answer);
    } catch (failure) {
      notify(`${label}: ${(failure as Error).message}`, true);
    } finally {
      setBusy(false);
    }
  };
  return { busy, run };
}

/** Re-renders every second: elapsed times and countdowns. */
export function useTick(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}
