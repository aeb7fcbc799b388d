import { randomBytes } from "node:crypto";
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import type {} from "./provided.ts";

const HOW_TO = [
  "The tests need a PostgreSQL server. Provide one of:",
  "  TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm test   (any role allowed to CREATE DATABASE)",
  "  DATABASE_URL=…                                                   (used when TEST_DATABASE_URL is unset)",
  "  a running Docker engine, so testcontainers can start postgres:16-alpine",
].join("\n");

export default async function setup(project: TestProject) {
  let url = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  let stopContainer: (() => Promise<unknown>) | undefined;
  if (!url) {
    try {
      const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
      const container = await new PostgreSqlContainer("postgres:16-alpine").start();
      url = container.getConnectionUri();
      stopContainer = () => container.stop();
    } catch (error) {
      throw new Error(`${HOW_TO}\n(testcontainers found no Docker engine: ${(error as Error).message})`);
    }
  }
  const admin = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await admin`select 1`;
  } catch (error) {
    await admin.end();
    throw new Error(`${HOW_TO}\n(could not reach ${redact(url)}: ${(error as Error).message})`);
  }
  const runId = `unifold_t_${randomBytes(3).toString("hex")}`;
  project.provide("databaseUrl", url);
  project.provide("runId", runId);

  return async () => {
    const leftovers = await admin<{ datname: string }[]>`select datname from pg_database where datname like ${`${runId}%`}`;
    for (const { datname } of leftovers) await admin.unsafe(`drop database if exists "${datname}" with (force)`);
    await admin.end();
    await stopContainer?.();
  };
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}
