// The vitest config of one `npm run mutation` module: only the tests that exercise it
// (scripts/mutation.ts sets them in UNIFOLD_MUTATION_TESTS), and the database only when they need it.
import { defineConfig } from "vitest/config";

const { tests, database } = JSON.parse(process.env.UNIFOLD_MUTATION_TESTS ?? '{"tests":[],"database":false}') as {
  tests: string[];
  database: boolean;
};

export default defineConfig({
  test: {
    include: tests,
    ...(database && { globalSetup: ["./test-support/global-setup.ts"] }),
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
