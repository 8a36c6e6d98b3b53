import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The dashboard: Preact, compiled to static files in dashboard/dist, which the service serves at / (npm ci builds it).
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", assetsDir: "assets", sourcemap: false },
});
