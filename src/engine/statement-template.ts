import { Prisma } from "../generated/prisma/client.js";

/** A placeholder for a value a template's statement is filled with at each call. */
export class Slot {
  constructor(readonly name: string) {}
}

/**
 * A statement built once and filled at each call: what a worker sends over
 * and over (its claims and ends) is a large nest of fragments, and putting
 * it together costs more than the rest of a batch's work in the worker.
 * `build` is given a Slot for each name; where one lands among the
 * statement's values, the call's value goes.
 */
export class StatementTemplate<Name extends string> {
  private readonly strings: readonly string[];
  private readonly values: readonly unknown[];
  private readonly slots: [index: number, name: Name][] = [];

  constructor(names: readonly Name[], build: (slots: Record<Name, Slot>) => Prisma.Sql) {
    const slots = Object.fromEntries(names.map((name) => [name, new Slot(name)])) as Record<Name, Slot>;
    const sql = build(slots);
    this.strings = sql.strings;
    this.values = sql.values;
    sql.values.forEach((value, index) => value instanceof Slot && this.slots.push([index, value.name as Name]));
  }

  fill(values: Record<Name, unknown>): Prisma.Sql {
    const filled = this.values.slice();
    for (const [index, name] of this.slots) filled[index] = values[name];
    return new Prisma.Sql(this.strings, filled);
  }
}
