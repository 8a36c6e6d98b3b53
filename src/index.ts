// The package's public API for plugins (MILEPOST_PLUGINS): typed helpers and types.
export { defineSource } from "./sources/types.js";
export type { SourceContext, SourceDefinition, SourcePage, SourceRecord } from "./sources/types.js";
export type { HttpClient, JsonRequest, JsonResponse, ResponseAction } from "./core/http-client.js";
export { UpstreamError } from "./core/http-client.js";
export { resolveSecrets } from "./core/secrets.js";
