import type { ServerResponse } from "node:http";
import { send } from "./send.js";

/** The size of the demo's nested API: organisations, their workspaces, their apps, their items. */
export interface DemoTree {
  orgs: number;
  workspaces: number;
  apps: number;
  items: number;
}

export const DEFAULT_TREE: DemoTree = { orgs: 2, workspaces: 4, apps: 3, items: 12 };

const WORKSPACE_NAMES = ["Marketing", "Sales", "Support", "Engineering", "Finance", "Legal", "People", "Operations"];
const APP_NAMES = ["Campaigns", "Leads", "Tickets", "Releases", "Invoices", "Contracts", "Hiring", "Suppliers"];

export const TREE_PATHS = /^\/(org\/|org\/\d+\/space\/|app\/space\/\d+\/|item\/app\/\d+\/)$/;

/**
 * A Podio-shaped API over a made-up tree, ids numbered level by level:
 * `/org/` → `[{org_id, name}]`, `/org/{org}/space/` → `[{space_id, name}]`,
 * `/app/space/{space}/` → `[{app_id, config: {name}}]`,
 * `/item/app/{app}/?limit&offset` → `{ total, items: [{item_id, title}] }`.
 */
export function answerTree(tree: DemoTree, path: string, url: URL, response: ServerResponse): void {
  const id = Number(/\/(\d+)\//.exec(path)?.[1] ?? 0);
  const missing = (what: string) => send(response, 404, { error: "not_found", error_description: `No ${what} ${id}` });
  if (path === "/org/") return send(response, 200, Array.from({ length: tree.orgs }, (_, o) => ({ org_id: o + 1, name: `Org ${o + 1}` })));
  if (path.startsWith("/org/")) {
    if (id < 1 || id > tree.orgs) return missing("organisation");
    return send(response, 200, Array.from({ length: tree.workspaces }, (_, w) => {
      const space = (id - 1) * tree.workspaces + w + 1;
      return { space_id: space, name: `${WORKSPACE_NAMES[w % WORKSPACE_NAMES.length]} ${space}` };
    }));
  }
  if (path.startsWith("/app/space/")) {
    if (id < 1 || id > tree.orgs * tree.workspaces) return missing("workspace");
    return send(response, 200, Array.from({ length: tree.apps }, (_, a) => {
      const app = (id - 1) * tree.apps + a + 1;
      return { app_id: app, config: { name: `${APP_NAMES[a % APP_NAMES.length]} ${app}` } };
    }));
  }
  if (id < 1 || id > tree.orgs * tree.workspaces * tree.apps) return missing("app");
  const limit = Math.min(500, Number(url.searchParams.get("limit") ?? 20));
  const offset = Number(url.searchParams.get("offset") ?? 0);
  if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(offset) || offset < 0) return send(response, 400, { error: "invalid_value", error_description: "limit and offset must be integers" });
  const items = [];
  for (let index = offset; index < Math.min(tree.items, offset + limit); index++) {
    const item = (id - 1) * tree.items + index + 1;
    items.push({ item_id: item, title: `Item ${item}`, app_id: id });
  }
  send(response, 200, { total: tree.items, items });
}
