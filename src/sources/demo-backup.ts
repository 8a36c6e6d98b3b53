import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import { httpUrl } from "../engine/config-schemas.js";
import type { JsonValue } from "../engine/json.js";
import { httpTree, httpTreeConfig, type HttpTreeConfig } from "./http-tree.js";
import { defineSource, type TreeContext, type TreeNode } from "./types.js";

const config = z.object({
  baseUrl: httpUrl().optional().describe("Where the demo upstream is; by default the one this service serves under /demo."),
  itemsPerPage: z.number().int().min(1).max(500).default(5),
});
type DemoBackupConfig = z.infer<typeof config>;

/** Whether a file or folder was there already (a resumed run that finds what an earlier one made). */
const exists = (error: unknown) => (error as NodeJS.ErrnoException).code === "EEXIST";

/**
 * A Podio-style backup of the demo's nested API through http-tree, which
 * also writes, under the data directory, a folder per workspace and a JSON
 * file per app: the side effects a resumed backup must find and reuse, not
 * make again (it logs each one it makes).
 */
export function demoBackupSource(defaultBaseUrl: () => string, dataDir: string) {
  const asTree = (options: DemoBackupConfig): HttpTreeConfig => {
    const base = options.baseUrl ?? defaultBaseUrl();
    return httpTreeConfig.parse({
      // Podio's rule: a rate limit without Retry-After lasts an hour.
      rateLimitWaitSeconds: 3600,
      levels: [
        { name: "org", url: `${base}/org/`, keyPath: "org_id", labelPath: "name" },
        { name: "workspace", url: `${base}/org/{org}/space/`, keyPath: "space_id", labelPath: "name" },
        { name: "app", url: `${base}/app/space/{workspace}/`, keyPath: "app_id", labelPath: "config.name" },
        { name: "item", url: `${base}/item/app/{app}/`, itemsPath: "items", keyPath: "item_id", totalPath: "total", pagination: { type: "offset", pageSize: options.itemsPerPage } },
      ],
    });
  };
  const folderOf = (ctx: TreeContext<DemoBackupConfig>, keys: Record<string, string>) => join(dataDir, "backups", `import-${ctx.importId}`, `org-${keys.org}`, `workspace-${keys.workspace}`);
  return defineSource<DemoBackupConfig, JsonValue>({
    name: "demo-backup",
    description: "A backup of the demo's nested API (org > workspace > app > item, Podio-shaped, 420 when rate limited), writing a folder per workspace and a JSON file per app.",
    shape: "TREE",
    levels: ["org", "workspace", "app", "item"],
    config,
    start: (options, node) => httpTree.start(asTree(options), node),
    children: (ctx, node, cursor) => httpTree.children({ ...ctx, config: asTree(ctx.config) }, node, cursor),
    async enter(ctx, node: TreeNode): Promise<JsonValue> {
      if (node.level === 1) {
        // Made before its node's first page commits: a run cut off in between finds it here and reuses it.
        const folder = folderOf(ctx, node.keys);
        await mkdir(dirname(folder), { recursive: true });
        try {
          await mkdir(folder);
          await ctx.log("INFO", `created folder ${folder}`);
        } catch (error) {
          if (!exists(error)) throw error;
        }
        return { folder };
      }
      if (node.level === 2) {
        const file = join(folderOf(ctx, node.keys), `app-${node.key}.json`);
        try {
          await writeFile(file, JSON.stringify({ app: node.key, name: node.label }), { flag: "wx" });
          await ctx.log("INFO", `created file ${file}`);
        } catch (error) {
          if (!exists(error)) throw error;
        }
        return { file };
      }
      return null;
    },
  });
}
