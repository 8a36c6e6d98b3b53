import { defaultFieldResolver, getNamedType, isObjectType, isScalarType, type GraphQLFieldResolver, type GraphQLSchema } from "graphql";
import type { Plugin } from "graphql-yoga";
import { userError } from "../schema/errors.js";

/**
 * The largest answer one query or mutation may make. The cost limit bounds
 * the rows an operation may read; this bounds the text they become, which a
 * few JSON payloads of 64 kB each can make large. Past it the answer is one
 * clear error instead of a partial one.
 */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** What one execution has answered so far. */
interface Meter {
  bytes: number;
  over: boolean;
}

const meters = new WeakMap<object, Meter>();

function answerTooLarge() {
  return userError(
    "BAD_USER_INPUT",
    `The answer would be larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MB: ask for fewer items (first) or fewer large fields (payload, result, data), and page with after`,
    { reason: "ANSWER_TOO_LARGE" },
  );
}

/**
 * About how many bytes a scalar value adds to a JSON answer, walked without
 * recursion and given up once past `limit` (the count is then only "more").
 */
export function answerSize(value: unknown, limit: number): number {
  let bytes = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && bytes <= limit) {
    const inner = stack.pop();
    if (typeof inner === "string") bytes += inner.length + 2;
    else if (inner === null || typeof inner !== "object") bytes += 8;
    else if (inner instanceof Date) bytes += 26;
    else if (Array.isArray(inner)) {
      bytes += 2 + inner.length;
      for (const item of inner) stack.push(item);
    } else {
      for (const [key, item] of Object.entries(inner)) {
        bytes += key.length + 4;
        stack.push(item);
      }
    }
  }
  return bytes;
}

function metered(resolve: GraphQLFieldResolver<unknown, object>): GraphQLFieldResolver<unknown, object> {
  return (source, args, context, info) => {
    const meter = meters.get(context);
    const value = resolve(source, args, context, info);
    if (!meter) return value;
    const count = (resolved: unknown) => {
      meter.bytes += answerSize(resolved, MAX_ANSWER_BYTES - meter.bytes);
      if (meter.bytes > MAX_ANSWER_BYTES) {
        meter.over = true;
        throw answerTooLarge();
      }
      return resolved;
    };
    return value instanceof Promise ? value.then(count) : count(value);
  };
}

/** Every scalar field of the schema counts what it answers toward MAX_ANSWER_BYTES (the schema is changed in place). */
export function meterAnswers(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith("__") || type === schema.getSubscriptionType()) continue;
    for (const field of Object.values(type.getFields())) {
      if (isScalarType(getNamedType(field.type))) field.resolve = metered((field.resolve ?? defaultFieldResolver) as GraphQLFieldResolver<unknown, object>);
    }
  }
  return schema;
}

/**
 * Meters each query and mutation (a subscription's events are small and
 * each is its own answer), and answers one that went past the limit with
 * the error alone.
 */
export function useAnswerCap(): Plugin {
  return {
    onExecute({ args }) {
      if (!args.contextValue || typeof args.contextValue !== "object") return;
      const meter: Meter = { bytes: 0, over: false };
      meters.set(args.contextValue, meter);
      return {
        onExecuteDone({ result, setResult }) {
          meters.delete(args.contextValue as object);
          if (meter.over && !(Symbol.asyncIterator in result)) setResult({ errors: [answerTooLarge()] });
        },
      };
    },
  };
}
