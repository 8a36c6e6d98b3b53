import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
} from "graphql";
import { schema } from "../../src/schema/index.js";

/** A root field of the built schema and a call of it with plain, valid-looking arguments. */
export interface RootCall {
  operation: "query" | "mutation" | "subscription";
  field: string;
  /** The document, with every argument passed as a variable. */
  document: string;
  variables: Record<string, unknown>;
  args: readonly GraphQLArgument[];
}

/** An id no row has: calls reach their resolver's NOT_FOUND, not somebody's data. */
export const ABSENT_ID = "2147483000";

/** A plain value of an input type: the first enum value, an absent id, "x", 1, {} and required fields filled in. */
export function sampleValue(type: GraphQLInputType): unknown {
  const inner = getNullableType(type);
  if (isListType(inner)) return [sampleValue(inner.ofType)];
  if (isEnumType(inner)) return inner.getValues()[0].value;
  if (isInputObjectType(inner)) {
    return Object.fromEntries(
      Object.values(inner.getFields())
        .filter((field) => isNonNullType(field.type))
        .map((field) => [field.name, sampleValue(field.type)]),
    );
  }
  if (isScalarType(inner)) {
    return { ID: ABSENT_ID, String: "x", Int: 1, Float: 1, Boolean: false, JSON: {}, DateTime: "2026-01-01T00:00:00Z" }[inner.name];
  }
  throw new Error(`no sample for ${String(type)}`);
}

function selection(field: GraphQLField<unknown, unknown>): string {
  const named = getNamedType(field.type);
  return isScalarType(named) || isEnumType(named) ? "" : "{ __typename }";
}

/** Every root field of the schema, called with its required arguments (and `overrides`) as variables. */
export function rootCalls(overrides: (call: { field: string; arg: GraphQLArgument }) => unknown = () => undefined): RootCall[] {
  const roots: [RootCall["operation"], GraphQLObjectType | null | undefined][] = [
    ["query", schema.getQueryType()],
    ["mutation", schema.getMutationType()],
    ["subscription", schema.getSubscriptionType()],
  ];
  return roots.flatMap(([operation, type]) =>
    Object.values(type?.getFields() ?? {}).map((field) => {
      const variables: Record<string, unknown> = {};
      const used = field.args.filter((arg) => isNonNullType(arg.type) || overrides({ field: field.name, arg }) !== undefined);
      for (const arg of used) variables[arg.name] = overrides({ field: field.name, arg }) ?? sampleValue(arg.type);
      const declared = used.map((arg) => `$${arg.name}: ${String(arg.type)}`).join(", ");
      const passed = used.map((arg) => `${arg.name}: $${arg.name}`).join(", ");
      const document = `${operation}${declared ? `(${declared})` : ""} { ${field.name}${passed ? `(${passed})` : ""} ${selection(field)} }`;
      return { operation, field: field.name, document, variables, args: field.args };
    }),
  );
}

/** Whether an input type holds a field (at any depth) of the named scalar. */
export function holdsScalar(type: GraphQLInputType, scalar: string, seen = new Set<string>()): boolean {
  const named = getNamedType(type);
  if (isScalarType(named)) return named.name === scalar;
  if (!isInputObjectType(named) || seen.has(named.name)) return false;
  seen.add(named.name);
  return Object.values(named.getFields()).some((field) => holdsScalar(field.type, scalar, seen));
}

/** The value of an input type with every value of `scalar` (at any depth) replaced by `value`. */
export function withScalar(type: GraphQLInputType, scalar: string, value: unknown): unknown {
  const inner = getNullableType(type);
  if (isListType(inner)) return [withScalar(inner.ofType, scalar, value)];
  if (isScalarType(inner)) return inner.name === scalar ? value : sampleValue(inner);
  if (isInputObjectType(inner)) {
    return Object.fromEntries(
      Object.values(inner.getFields())
        .filter((field) => isNonNullType(field.type) || holdsScalar(field.type, scalar))
        .map((field) => [field.name, withScalar(field.type, scalar, value)]),
    );
  }
  return sampleValue(inner);
}
