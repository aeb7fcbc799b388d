// The vitest config of one `npm run mutation` module: only the tests that exercise it
// (scripts/mutation.ts sets them in UNIFOLD_MUTATION_TESTS), and the database only when they need it.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const { tests, database } = JSON.parse(process.env.UNIFOLD_MUTATION_TESTS ?? '{"tests":[],"database":false}') as {
  tests: string[];
  database: boolean;
};

// The workspace's packages from this checkout's sources: Stryker runs the tests in a copy of the
// repository whose node_modules links still point at the original packages, so a gateway test
// importing @unifold/engine would otherwise test the unmutated engine.
const root = fileURLToPath(new URL("..", import.meta.url));

export default defineConfig({
  resolve: {
    alias: [{ find: /^@unifold\/(db|engine|mapping)$/, replacement: `${root}packages/$1/src/index.ts` }],
  },
  test: {
    include: tests,
    ...(database && { globalSetup: ["./test-support/database-setup.ts"] }),
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
