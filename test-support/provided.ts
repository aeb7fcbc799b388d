// What the global setup hands every test file (vitest's provide/inject).
declare module "vitest" {
  export interface ProvidedContext {
    /** A Postgres server URL whose role may CREATE DATABASE; each test file makes its own. */
    databaseUrl: string;
    /** Prefix of every database this run creates, so teardown can drop leftovers. */
    runId: string;
  }
}

export {};
