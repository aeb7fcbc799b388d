// The vitest config of one `npm run mutation` module: only the tests that exercise it
// (scripts/mutation.ts sets them in UNIFOLD_MUTATION_TESTS), and the database only when they need it.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

const { tests, database } = JSON.parse(process.env.UNIFOLD_MUTATION_TESTS ?? '{"tests":[],"database":false}') as {
  tests: string[];
  database: boolean;
};

// The workspace's packages from this checkout's sources: Stryker runs the tests in a copy of the
// repository whose node_modules links still point at the original packages, so a gateway test
// importing @unifold/engine would otherwise test the unmutated engine.
const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * The module's test files in the order listed, its own quick tests first: Stryker stops at the
 * first failure, so a mutant a unit test kills costs no integration suite (vitest would run the
 * longest file first).
 */
class ListedOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const at = tests.findIndex((test) => file.moduleId.endsWith(test));
      return at < 0 ? tests.length : at;
    };
    return [...files].sort((a, b) => rank(a) - rank(b));
  }
}

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
    sequence: { sequencer: ListedOrder },
  },
});
