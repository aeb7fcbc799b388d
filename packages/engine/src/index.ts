export * from "./cursor.ts";
export * from "./definition.ts";
export * from "./loader.ts";
export * from "./template.ts";
export * from "./upstream.ts";
export * from "./verify.ts";
export * from "./reads.ts";
export * from "./writes.ts";
