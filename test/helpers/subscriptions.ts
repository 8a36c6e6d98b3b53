import type { Client } from "graphql-ws";

export interface Subscription<T> {
  /** The next payload, or a failure after `timeoutMs`. */
  next(timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

/** Subscribes and hands out results one by one; errors reject `next`. */
export function subscribe<T = Record<string, unknown>>(client: Client, query: string, variables?: Record<string, unknown>): Subscription<T> {
  const iterator = client.iterate<T>({ query, variables });
  return {
    async next(timeoutMs = 10_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no subscription result within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const result = await Promise.race([
          iterator.next().catch((error: unknown) => {
            // graphql-ws rejects with the GraphQL errors array or a CloseEvent, not an Error.
            throw error instanceof Error ? error : new Error(JSON.stringify(error));
          }),
          timeout,
        ]);
        if (result.done) throw new Error("the subscription ended");
        if (result.value.errors?.length) throw new Error(JSON.stringify(result.value.errors));
        return result.value.data as T;
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await iterator.return?.();
    },
  };
}
