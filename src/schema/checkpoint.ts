import type { Checkpoint, CheckpointLevel } from "../engine/events.js";
import { builder } from "./builder.js";

export const CheckpointLevelRef = builder.objectRef<CheckpointLevel>("CheckpointLevel").implement({
  description: "One level of a checkpoint path.",
  fields: (t) => ({
    level: t.exposeString("level"),
    index: t.exposeInt("index"),
    total: t.int({ nullable: true, resolve: (level) => level.total ?? null }),
    key: t.string({ nullable: true, resolve: (level) => level.key ?? null }),
    label: t.string({ nullable: true, resolve: (level) => level.label ?? null }),
  }),
});

export const CheckpointRef = builder.objectRef<Checkpoint>("Checkpoint").implement({
  description: "The last committed position; resumed work continues from here.",
  fields: (t) => ({
    path: t.field({
      type: [CheckpointLevelRef],
      description: "Outermost first, e.g. [{level:'org',index:0,total:1}, {level:'workspace',index:24,total:84}].",
      resolve: (checkpoint) => checkpoint.path,
    }),
    position: t.field({
      type: "JSON",
      description: "Source-specific position (e.g. {page: 37} or a cursor token).",
      resolve: (checkpoint) => checkpoint.position,
    }),
    at: t.field({ type: "DateTime", resolve: (checkpoint) => checkpoint.at }),
  }),
});
