import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { useGatewayWithSandbox, vendors } from "./harness.ts";

/**
 * Property-based: generated invalid and adversarial requests to every route the app registers
 * never get a 5xx, a stack trace, or a secret back; and after the whole run neither the log nor
 * any answer holds a credential, the encryption key or an API key secret.
 */
describe("fuzzing every route", () => {
  const answers: string[] = [];

  const fx = useGatewayWithSandbox({ tenants: { acme: 15 } });

  const secrets = () => [
    ...(Object.values(vendors).map((v) => fx.sandbox.key(v, "acme")) as string[]),
    ...fx.gw.keySpec.split(",").map((entry) => entry.split(":")[1]!),
    fx.gw.adminKey,
    fx.apiKey,
  ];

  const hostile = fc.oneof(
    fc.constantFrom(
      "..",
      "%2e%2e",
      "%2f",
      "%00",
      "%ff",
      "a%2Fb",
      "' OR 1=1 --",
      "<script>",
      "😀",
      "\u202e",
      "null",
      "-1",
      "1e309",
      "[]",
      "{}",
    ),
    fc.string({ maxLength: 40 }).map(encodeURIComponent),
    fc.string({ minLength: 300, maxLength: 600 }).map(encodeURIComponent),
    fc.uuid(),
  );
  const connectionId = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...Object.keys(vendors)).map((slug) => fx.conn[slug] as string) },
    { weight: 1, arbitrary: hostile },
  );
  const query = fc.dictionary(
    fc.constantFrom(
      "limit",
      "cursor",
      "connection_id",
      "remote_data",
      "email",
      "status",
      "username",
      "name",
      "updated_after",
      "verify",
      "x",
    ),
    hostile,
    { maxKeys: 4 },
  );
  const body = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc
      .record(
        {
          username: fc.string(),
          first_name: fc.anything(),
          emails: fc.anything(),
          status: fc.string(),
          operations: fc.anything(),
          name: fc.anything(),
        },
        { requiredKeys: [] },
      )
      .map((v) => JSON.stringify(v) ?? "null"),
    fc.string({ maxLength: 200 }),
    fc.constant('{"unterminated": '),
  );

  it("answers every generated request below 500, without stack traces or secrets", async () => {
    const routes = fx.gw.routes;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.array(hostile, { minLength: 3, maxLength: 3 }),
        connectionId,
        query,
        body,
        // Mostly valid keys, so requests get past authentication into the routes.
        fc.oneof(
          { weight: 6, arbitrary: fc.constant("api") },
          { weight: 3, arbitrary: fc.constant("admin") },
          { weight: 1, arbitrary: fc.constantFrom("none", "garbage") },
        ),
        fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
        async (route, params, connection, extraQuery, rawBody, who, idempotencyKey) => {
          let index = 0;
          const path = route.path.replace(/:[^/]+|\*/g, () => params[index++ % params.length]!);
          const search = new URLSearchParams({ connection_id: connection, ...extraQuery }).toString();
          const key = who === "api" ? fx.apiKey : who === "admin" ? fx.gw.adminKey : who === "garbage" ? "ufk_not-a-key" : null;
          const headers: Record<string, string> = { "content-type": "application/json" };
          if (idempotencyKey !== undefined) headers["idempotency-key"] = encodeURIComponent(idempotencyKey);
          const withBody = route.method !== "GET" && route.method !== "HEAD";
          const res = await fx.gw.call(route.method, `${path}?${search}`, { key, headers, rawBody: withBody ? rawBody : undefined });
          answers.push(res.text);
          expect(res.status, `${route.method} ${path}?${search} → ${res.text.slice(0, 300)}`).toBeLessThan(500);
          expect(res.text).not.toMatch(/\n\s+at \S+ \(|node_modules|\.ts:\d+/);
        },
      ),
      { numRuns: 800, seed: 20261122 },
    );
  }, 120_000);

  it("leaves no credential, key or API key secret in the log or in any answer", () => {
    const everything = `${fx.gw.logs()}\n${answers.join("\n")}`;
    expect(answers.length).toBeGreaterThan(0);
    for (const secret of secrets()) {
      expect(secret.length).toBeGreaterThan(10);
      expect(everything.includes(secret), `a secret starting ${secret.slice(0, 4)} leaked`).toBe(false);
    }
  });
});
