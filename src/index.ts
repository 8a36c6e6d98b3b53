// The package's public API for plugins (MILEPOST_PLUGINS): typed helpers and types.
export { defineSource } from "./sources/types.js";
export type { SourceContext, SourceDefinition, SourcePage, SourceRecord } from "./sources/types.js";
export type { HttpClient, HttpRequest, HttpResponse, JsonResponse, ParamValue, ResponseAction } from "./core/http-client.js";
export { UpstreamError } from "./core/http-client.js";
export { httpUrl, secretOr, secretRef } from "./core/config-schemas.js";
