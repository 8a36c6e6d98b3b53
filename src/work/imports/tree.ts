import type { Import, ImportNode } from "../../generated/prisma/client.js";
import type { Finish, RunContext } from "../../engine/checkpointed/kind.js";
import type { CheckpointLevel } from "../../engine/events.js";
import { RateLimitedError, UpstreamError } from "../../engine/http-client.js";
import type { JsonValue } from "../../engine/json.js";
import { treeLevels, type TreeContext, type TreeNode, type TreePage, type TreeSource } from "../../sources/types.js";
import { endingOf } from "./endings.js";
import { firstOpenChild, readNode, rootOf, type TreeStep } from "./nodes.js";
import { emptyUnit, type ImportUnit } from "./unit.js";

/** The walk's position: the nodes from the root down to the one it works on. */
type Stack = ImportNode[];

const keysOf = (levels: string[], stack: Stack): Record<string, string> => Object.fromEntries(stack.filter((node) => node.level >= 0).map((node) => [levels[node.level], node.key]));

function treeNode(levels: string[], stack: Stack): TreeNode {
  const node = stack.at(-1)!;
  return { level: node.level, key: node.key, label: node.label, keys: keysOf(levels, stack), effects: (node.effects ?? null) as JsonValue | null };
}

/** How many children a node has: as the upstream said, or as found once its listing ended; null while unknown. */
const childrenTotal = (node: ImportNode) => node.childrenTotal ?? (node.listed ? node.childrenFound : null);

/** The checkpoint path: each level from the root down, with its place among its siblings. */
function pathOf(levels: string[], stack: Stack): CheckpointLevel[] {
  return stack.slice(1).map((node, index) => ({ level: levels[node.level], index: node.ord, total: childrenTotal(stack[index]), key: node.key, label: node.label }));
}

/** Where the walk is, as a LOG line says it: "workspace 25/84 'Marketing', app 3/5 'Campaigns'". */
function where(levels: string[], stack: Stack): string {
  const steps = pathOf(levels, stack).map((level) => `${level.level} ${level.index + 1}/${level.total ?? "?"} '${level.label ?? level.key}'`);
  return steps.length ? steps.join(", ") : "the top";
}

type Listed = { ok: true; page: TreePage<JsonValue> } | { ok: false; error: unknown };

/**
 * Walks a TREE source depth first from the import's root, one node at a
 * time, streaming from the node table: the walk holds only the path from
 * the root and one page. A node is listed a page at a time from its
 * committed cursor, each page committed with the children it found (or,
 * under the last level but one, the records), and a node whose children
 * are all done is done. A resumed run walks down the nodes not done to the
 * same node and cursor: no finished node is listed again. Each page is its
 * own checkpoint (CHECKPOINT_EVERY counts FLAT pages).
 */
export async function runTree(source: TreeSource, config: unknown, ctx: RunContext<Import, ImportUnit>): Promise<Finish<ImportUnit>> {
  const start = ctx.row();
  const runStart = Date.now();
  const { signal } = ctx;
  const levels = treeLevels(source, config);
  const leafParent = levels.length - 2; // its children are the records
  const treeCtx: TreeContext<unknown> = { config, http: ctx.http, signal, log: ctx.log, firstPage: start.pagesDone === 0, importId: start.id };
  const stack: Stack = [await rootOf(start.id)];
  let continuing = start.pagesDone > 0;

  const unitOf = (step: TreeStep, parts: Partial<ImportUnit> = {}): ImportUnit => ({
    ...emptyUnit(ctx.row()),
    activeSeconds: start.activeSeconds + (Date.now() - runStart) / 1000,
    cursor: step.cursor?.value ?? null,
    path: pathOf(levels, stack),
    tree: step,
    ...parts,
  });
  /** Commits a step and reads its node back, as the next step starts from it. */
  const commit = async (unit: ImportUnit) => {
    await ctx.checkpoint(unit);
    await ctx.settled();
    stack[stack.length - 1] = await readNode(stack.at(-1)!.id);
  };
  for (;;) {
    if (signal.aborted) return {};
    const node = stack.at(-1)!;
    if (node.done) {
      stack.pop();
      if (stack.length === 0) return { ending: { to: "COMPLETED", reason: "every node imported" } };
      stack[stack.length - 1] = await readNode(stack.at(-1)!.id);
      continue;
    }
    if (node.listed) {
      const child = await firstOpenChild(node.id);
      if (child) stack.push(child);
      else await commit(unitOf({ node, children: [], listed: true, done: true, total: null }));
      continue;
    }
    if (continuing) {
      continuing = false;
      await ctx.log("INFO", `continuing at ${where(levels, stack)}`);
    }
    const here = treeNode(levels, stack);
    const effects = source.enter && node.level >= 0 && node.effects === null ? await source.enter(treeCtx, here) : undefined;
    const cursor = (node.cursor ?? source.start(config, here)) as JsonValue;
    const listed: Listed = await source.children(treeCtx, { ...here, effects: effects ?? here.effects }, cursor).then(
      (page) => ({ ok: true as const, page }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    treeCtx.firstPage = false;
    if (!listed.ok) {
      if (signal.aborted) return effects === undefined ? {} : { unit: unitOf({ node, children: [], listed: false, done: false, total: null, effects }) };
      const ending = endingOf(listed.error);
      if (listed.error instanceof RateLimitedError) {
        await ctx.log("WARNING", `rate limit at ${where(levels, stack)}; resumes at ${listed.error.until.toISOString().slice(11, 16)} UTC`);
      }
      if (ending !== "skip") return { ending, unit: unitOf({ node, children: [], listed: false, done: false, total: null, effects }) };
      // A node that cannot be listed is recorded where it is, and the walk goes on past it.
      const error = listed.error as UpstreamError;
      const keys = stack.slice(1).map((step) => step.key);
      await commit(unitOf({ node, children: [], listed: true, done: true, total: null, effects }, { errors: [{ page: start.pagesDone + 1, path: keys, httpStatus: error.httpStatus, message: error.message, attempts: error.attempts }] }));
      continue;
    }
    const { page } = listed;
    const last = page.next === null;
    const records = node.level === leafParent ? (page.records ?? []) : [];
    const children = node.level < leafParent ? (page.children ?? []) : [];
    await commit(unitOf({ node, children, cursor: { value: page.next }, listed: last, done: last && node.level === leafParent, total: page.total ?? null, effects }, { pages: 1, records }));
    if (start.maxPages !== null && ctx.row().pagesDone >= start.maxPages) return { ending: { to: "COMPLETED", reason: `maxPages (${start.maxPages}) reached` } };
  }
}
