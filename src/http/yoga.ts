import { createYoga, type YogaServerInstance } from "graphql-yoga";
import type { EventHub } from "../engine/event-hub.js";
import { logger } from "../logger.js";
import { useMutationRole } from "../schema/authorize.js";
import { maskError } from "../schema/errors.js";
import { schema } from "../schema/index.js";
import type { Context } from "../schema/context.js";
import { createContextFactory, type InitialContext } from "./context.js";
import { meterAnswers, useAnswerCap } from "./answer-size.js";
import { useContractErrorCodes } from "./error-codes.js";
import { useDocumentLimits } from "./limits.js";

export type Yoga = YogaServerInstance<InitialContext, Context>;

/**
 * The GraphQL server. GraphiQL is served at the same path; it runs
 * subscriptions over server-sent events with the headers it is given,
 * while programs use graphql-ws on the same path (src/http/websocket.ts).
 */
export function createGraphQLServer(options: { authOff: boolean; events: EventHub; corsOrigins: readonly string[]; defaults: Context["defaults"] }): Yoga {
  return createYoga<InitialContext, Context>({
    // CORS for the origins MILEPOST_CORS_ORIGINS lists only; none by default (src/http/origins.ts says why).
    cors: options.corsOrigins.length > 0 ? { origin: [...options.corsOrigins], methods: ["GET", "POST"], credentials: false } : false,
    schema: meterAnswers(schema),
    context: createContextFactory(options.authOff, options.events, options.defaults),
    maskedErrors: { maskError },
    logging: {
      debug: (...args) => logger.debug({ yoga: args }, "yoga"),
      info: (...args) => logger.info({ yoga: args }, "yoga"),
      warn: (...args) => logger.warn({ yoga: args }, "yoga"),
      // Yoga logs every error that masking changed, expected ones (a CONFLICT) included; maskError
      // (src/schema/errors.ts) already logs the unexpected ones at error level, once, so these are detail.
      error: (...args) => logger.debug({ yoga: args }, "yoga: an error was masked"),
    },
    // GraphiQL is served before Yoga, rendered and compressed once (src/http/graphiql.ts).
    graphiql: false,
    plugins: [...useDocumentLimits(), useMutationRole(), useAnswerCap(), useContractErrorCodes()],
  });
}
