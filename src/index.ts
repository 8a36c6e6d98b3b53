// The package's public API for plugins (MILEPOST_PLUGINS): typed helpers and types.
export { defineSource } from "./sources/types.js";
export { defineCollector } from "./collectors/types.js";
export type { CollectorContext, CollectorDefinition, LastSuccess, UpsertCounts, YearPlan } from "./collectors/types.js";
export { defineProcessor, PermanentError } from "./engine/processor.js";
export type { ProcessorContext, ProcessorDefinition } from "./engine/processor.js";
export type { SourceContext, SourceDefinition, SourcePage, SourceRecord } from "./sources/types.js";
export type { HttpClient, HttpRequest, HttpResponse, JsonResponse, ParamValue, ResponseAction } from "./engine/http-client.js";
export { UpstreamError } from "./engine/http-client.js";
export { httpUrl, secretOr, secretRef } from "./engine/config-schemas.js";
