import { createConfig, lintFromString } from "@redocly/openapi-core";
import { Ajv2020 } from "ajv/dist/2020.js";
import { beforeAll, describe, expect, it } from "vitest";
import { type Slug, useGatewayWithSandbox } from "./harness.ts";

describe("OpenAPI 3.1 document and reference page", () => {
  let doc: { openapi: string; paths: Record<string, Record<string, unknown>> };

  const fx = useGatewayWithSandbox({ tenants: { acme: 8 } });
  beforeAll(async () => {
    const res = await fx.gw.call("GET", "/openapi.json", { key: null });
    expect(res.status).toBe(200);
    doc = res.body;
  });

  it("is OpenAPI 3.1, served without a key, and lists every route the app registers", () => {
    expect(doc.openapi).toBe("3.1.0");
    const served = new Set(["/openapi.json", "/docs", "/docs/scalar.js"]);
    const missing: string[] = [];
    for (const route of fx.gw.routes) {
      if (served.has(route.path)) continue;
      // The SCIM service is RFC 7644's protocol, documented by its RFC and docs/scim.md, and discovered through its own /Schemas.
      if (route.path.startsWith("/scim/v2/")) continue;
      // A parameter's pattern (`:token{ucs_…}`) is the router's business, not the document's.
      const path = route.path.replace(/:(\w+)(\{[^/]*\})?/g, "{$1}").replace(/\/\*$/, "/{path}");
      if (!doc.paths[path]?.[route.method.toLowerCase()]) missing.push(`${route.method} ${path}`);
    }
    expect(missing).toEqual([]);
  });

  it("passes Redocly's recommended lint rules with no error, and names every operation once", async () => {
    const problems = await lintFromString({
      source: JSON.stringify(doc),
      absoluteRef: "/openapi.json",
      config: await createConfig({ extends: ["recommended"] }),
    });
    expect(problems.filter((p) => p.severity === "error").map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
    const ids = Object.values(doc.paths).flatMap((operations) =>
      Object.values(operations).map((op) => (op as { operationId?: string }).operationId),
    );
    expect(ids.every((id) => typeof id === "string" && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect((doc as unknown as { servers: unknown[] }).servers).toEqual([{ url: "/", description: "This gateway" }]);
  });

  it("titles operations as a reference reader expects: list reads, single-item reads, and where health and metrics sit", () => {
    const op = (path: string, method = "get") => doc.paths[path]![method] as { summary: string; tags: string[] };
    expect(op("/unified/user-directory/users").summary).toBe("List users");
    expect(op("/unified/user-directory/users/{id}").summary).toBe("Get a user");
    expect(op("/unified/user-directory/me").summary).toBe("Get the current user");
    expect(op("/unified/user-directory/organizations/{id}").summary).toBe("Get an organization");
    expect(op("/unified/hris/groups").summary).toBe("List HRIS groups");
    expect(op("/connections/{id}").summary).toBe("Get a connection");
    expect(op("/health").tags).toEqual(["Monitoring"]);
    expect(op("/metrics").tags).toEqual(["Monitoring"]);
    // Every single-item read and every list read says so in the usual words.
    for (const [path, methods] of Object.entries(doc.paths)) {
      const get = methods.get as { summary: string } | undefined;
      if (!get || path.startsWith("/connect/") || ["/docs", "/openapi.json", "/health"].includes(path)) continue;
      expect(get.summary, path).toMatch(/^(List|Get|GET) /);
    }
  });

  it("names the unified model's schemas and uses them on every unified route", () => {
    const components = (doc as unknown as { components: { schemas: Record<string, unknown> } }).components.schemas;
    for (const name of [
      "User",
      "Employee",
      "Group",
      "GroupMember",
      "Organization",
      "Company",
      "Role",
      "UserInput",
      "GroupInput",
      "MemberInput",
    ]) {
      expect(components, name).toHaveProperty(name);
    }
    const refsOf = (value: unknown): string[] => JSON.stringify(value).match(/#\/components\/schemas\/\w+/g) ?? [];
    for (const [path, operations] of Object.entries(doc.paths)) {
      if (!path.startsWith("/unified/")) continue;
      for (const [method, operation] of Object.entries(operations)) {
        const responses = (operation as { responses: Record<string, unknown> }).responses;
        const success = Object.entries(responses).find(([status]) => status.startsWith("2"))![1];
        expect(refsOf(success).length, `${method} ${path}`).toBeGreaterThan(0);
        expect(JSON.stringify(success), `${method} ${path}`).not.toContain("additionalProperties");
      }
    }
  });

  it("describes real answers: responses validate against the document's schemas", async () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    ajv.addSchema(doc, "openapi");
    const check = (path: string, method: string, status: number, body: unknown) => {
      const pointer = `openapi#/paths/${path.replaceAll("/", "~1")}/${method}/responses/${status}/content/application~1json/schema`;
      const validate = ajv.compile({ $ref: pointer });
      expect(validate(body), `${method} ${path} ${status}: ${JSON.stringify(validate.errors)}`).toBe(true);
    };
    const connections = await fx.gw.call("GET", "/connections");
    check("/connections", "get", 200, connections.body);
    const one = await fx.gw.call("GET", `/connections/${fx.conn.jumpcloud}`);
    check("/connections/{id}", "get", 200, one.body);
    const users = await fx.gw.call("GET", `/unified/user-directory/users?connection_id=${fx.conn.jumpcloud}&limit=3`, { key: fx.apiKey });
    check("/unified/user-directory/users", "get", 200, users.body);
    // Every unified read, from every integration that serves it, in the model's named schemas.
    const reads: [string, string, Slug][] = [
      ["/unified/user-directory/users", "", "jostle-scim"],
      ["/unified/user-directory/users", "", "postman-scim"],
      ["/unified/user-directory/me", "", "jostle-scim"],
      ["/unified/user-directory/groups", "", "postman-scim"],
      ["/unified/user-directory/groups", "", "jumpcloud"],
      ["/unified/user-directory/organizations", "", "jumpcloud"],
      ["/unified/user-directory/roles", "", "jumpcloud"],
      ["/unified/hris/employees", "", "jumpcloud"],
      ["/unified/hris/companies", "", "jumpcloud"],
      ["/unified/hris/groups", "", "jumpcloud"],
    ];
    for (const [path, extra, slug] of reads) {
      const res = await fx.gw.call("GET", `${path}?connection_id=${fx.conn[slug]}${extra}`, { key: fx.apiKey });
      expect(res.status, `${slug} ${path}`).toBe(200);
      check(path, "get", 200, res.body);
    }
    const group = (
      await fx.gw.call("GET", `/unified/user-directory/groups?connection_id=${fx.conn["postman-scim"]}&limit=1`, { key: fx.apiKey })
    ).body.result[0];
    const members = await fx.gw.call("GET", `/unified/user-directory/groups/${group.id}/members?connection_id=${fx.conn["postman-scim"]}`, {
      key: fx.apiKey,
    });
    check("/unified/user-directory/groups/{id}/members", "get", 200, members.body);
    const unknown = await fx.gw.call("GET", "/connections/00000000-0000-4000-a000-000000000000");
    check("/connections/{id}", "get", 404, unknown.body);
    const created = await fx.gw.call("POST", `/unified/user-directory/users?connection_id=${fx.conn["postman-scim"]}`, {
      key: fx.apiKey,
      body: { username: "doc.check@acme.example.com", first_name: "Doc", last_name: "Check" },
    });
    check("/unified/user-directory/users", "post", 201, created.body);
  });

  it("serves an interactive reference page that needs nothing from the internet", async () => {
    const page = await fx.gw.call("GET", "/docs", { key: null });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(page.text).toContain('src="/docs/scalar.js"');
    expect(page.text).not.toMatch(/src="https?:/);
    const script = await fx.gw.call("GET", "/docs/scalar.js", { key: null });
    expect(script.status).toBe(200);
    expect(script.text.length).toBeGreaterThan(1_000_000);
  });
});
