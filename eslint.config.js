import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

const projectPackages = ["@unifold/*"];
const hono = ["hono", "hono/*", "@hono/*"];
/** One rule per set of files: ESLint keeps only the last `no-restricted-imports` that matches a file, so each lists all of its bans. */
const restrict = (files, ...bans) => ({
  files,
  rules: { "no-restricted-imports": ["error", { patterns: bans.flat() }] },
});
const ban = (patterns, message) => [{ group: patterns, message }];

// A feature module (domain/<feature>/) is reached through its index.ts, its public interface, only.
const featureInsides = "a feature module is used through its public interface, domain/<feature>/index.ts, never its files";
const outsideFeatures = [{ regex: "(^|/)domain/[^/]+/(?!index\\.ts$)[^/]+$", message: featureInsides }];
const betweenFeatures = [{ regex: "^\\.\\./(?!\\.\\.)[^/]+/(?!index\\.ts$)", message: featureInsides }];
const noHttp = ban(
  [...hono, "**/routes/*", "**/middleware/*", "**/http/*", "**/app.ts", "**/errors.ts"],
  "the domain layer (and the jobs that call it) knows no HTTP: routes, the CLI and jobs all call it; it throws domain/failure.ts's Failure, and only the edge (errors.ts) gives it a status",
);
const importRules = [
  restrict(["apps/gateway/src/**"], outsideFeatures),
  restrict(
    ["apps/gateway/src/routes/**"],
    ban(["./*"], "a route file never imports another route file: shared logic lives in domain/ or http/"),
    outsideFeatures,
  ),
  restrict(
    ["apps/gateway/src/domain/**"],
    noHttp,
    betweenFeatures,
    ban(["**/services.ts"], "a feature module is given its parts (see services.ts); it never reaches for the whole gateway"),
  ),
  restrict(
    ["apps/gateway/src/jobs/**", "apps/gateway/src/services.ts", "apps/gateway/src/metrics.ts", "apps/gateway/src/limits.ts"],
    noHttp,
    outsideFeatures,
  ),
  restrict(["apps/gateway/src/middleware/**"], ban(["**/routes/*"], "middleware runs before any route and imports none"), outsideFeatures),
  restrict(
    ["packages/engine/src/**"],
    ["@unifold/db", "@unifold/gateway", "@unifold/sandbox", "@unifold/sdk", "@unifold/cli", ...hono],
    "the engine knows no database and no server",
  ),
  restrict(
    ["packages/db/src/**"],
    ["@unifold/engine", "@unifold/gateway", "@unifold/sandbox", ...hono],
    "the store knows no engine and no server",
  ),
  restrict(["packages/mapping/src/**"], projectPackages, "the mapping compiler stands alone"),
  restrict(["apps/sandbox/src/**"], projectPackages, "the sandbox stands in for the outside world: it imports nothing of Unifold"),
  restrict(
    ["apps/gateway/src/connect/browser/**"],
    ["*", "./*", "../*"],
    "the connect page's script is inlined on its own (src/connect/assets.ts compiles it without bundling): it imports nothing",
  ),
];

export default tseslint.config(
  { ignores: ["**/node_modules/**", "**/dist/**", "drizzle/**", "packages/sdk/src/schema.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  // The import direction, enforced: each layer imports only the ones below it (README "Architecture").
  ...importRules,
  // Plain JavaScript run by node as it is (the gateway's build and start scripts, the CLI's bin).
  { files: ["**/*.js"], languageOptions: { globals: globals.node } },
  // The connect page's script runs in the browser (inlined by src/connect/assets.ts).
  { files: ["apps/gateway/src/connect/browser/**"], languageOptions: { globals: globals.browser } },
);
