export * from "./client.ts";
export * from "./entra.ts";
export * from "./okta.ts";
