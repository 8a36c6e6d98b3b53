import { createClient, type Client } from "graphql-ws";

/** A GraphQL error as the service answers it: its message and `extensions.code`. */
export class GraphQLFailure extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

type Result<T> = { data?: T | null; errors?: readonly { message: string; extensions?: { code?: string } }[] };

/** Close codes after which the token is no good: none given, refused, or revoked. */
const TOKEN_REFUSED = new Set([4401, 4403]);

export interface Api {
  request<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
  subscribe<T>(query: string, variables: Record<string, unknown>, next: (data: T) => void, failed?: (error: GraphQLFailure) => void): () => void;
  dispose(): void;
}

const failureOf = (result: Result<unknown>) => {
  const first = result.errors?.[0];
  return first ? new GraphQLFailure(result.errors!.map((error) => error.message).join("; "), first.extensions?.code) : null;
};

/**
 * Every operation goes over one graphql-ws connection (queries and
 * mutations too): it reconnects by itself, and `tokenRefused` is called
 * when the server will not take the token, so the page can sign out.
 */
export function connect(token: string, tokenRefused: (reason: string) => void, connection: (up: boolean) => void): Api {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
  const client: Client = createClient({
    url,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: (event) => !TOKEN_REFUSED.has((event as CloseEvent).code),
    on: {
      connected: () => connection(true),
      closed: (event) => {
        const { code, reason } = event as CloseEvent;
        if (TOKEN_REFUSED.has(code)) tokenRefused(reason || "the token was refused");
        else if (code !== 1000) connection(false);
      },
    },
  });
  const unauthenticated = (failure: GraphQLFailure) => failure.code === "UNAUTHENTICATED" && tokenRefused(failure.message);
  return {
    request<T>(query: string, variables: Record<string, unknown> = {}) {
      return new Promise<T>((resolve, reject) => {
        let last: Result<T> = {};
        client.subscribe<T>(
          { query, variables },
          {
            next: (result) => void (last = result as Result<T>),
            error: (error) => reject(error instanceof Error ? error : new GraphQLFailure("the connection was lost", undefined)),
            complete: () => {
              const failure = failureOf(last);
              if (failure) {
                unauthenticated(failure);
                reject(failure);
              } else resolve(last.data as T);
            },
          },
        );
      });
    },
    subscribe<T>(query: string, variables: Record<string, unknown>, next: (data: T) => void, failed?: (error: GraphQLFailure) => void) {
      return client.subscribe<T>(
        { query, variables },
        {
          next: (result) => {
            const failure = failureOf(result as Result<unknown>);
            if (failure) {
              unauthenticated(failure);
              failed?.(failure);
            } else if (result.data) next(result.data as T);
          },
          error: () => undefined, // a lost connection: graphql-ws subscribes again once it is back
          complete: () => undefined,
        },
      );
    },
    dispose: () => void client.dispose(),
  };
}
