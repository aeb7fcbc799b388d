import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { authHeaders, IntegrationLoadError, loadIntegrations, render } from "../src/index.ts";

const mappings = fileURLToPath(new URL("../../../mappings", import.meta.url));
const temp: string[] = [];
afterEach(() => {
  for (const dir of temp.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function copyOfMappings(): string {
  const dir = mkdtempSync(join(tmpdir(), "unifold-mappings-"));
  temp.push(dir);
  cpSync(mappings, dir, { recursive: true });
  return dir;
}

describe("integration loader", () => {
  it("loads the shipped integrations", () => {
    const loaded = loadIntegrations(mappings);
    expect([...loaded.keys()]).toEqual(["google-workspace", "jostle-scim", "jumpcloud", "microsoft-entra-id", "okta", "postman-scim"]);
    expect(loaded.get("jumpcloud")?.config.org_id?.required).toBe(false);
  });

  it("names the file and the field when a definition is invalid", () => {
    const dir = copyOfMappings();
    writeFileSync(join(dir, "jumpcloud", "integration.yaml"), "name: JumpCloud\nbase_url: ftp://x\n");
    expect(() => loadIntegrations(dir)).toThrow(IntegrationLoadError);
    expect(() => loadIntegrations(dir)).toThrow(/jumpcloud\/integration\.yaml: .*base_url/);
  });

  it("refuses a delta its list cannot serve: a changed-since filter the list lacks, a delta query's unknown style or file", () => {
    const dir = copyOfMappings();
    const file = join(dir, "okta", "integration.yaml");
    const okta = readFileSync(file, "utf8");
    writeFileSync(file, okta.replace("filters: [email, username, status, updated_after]", "filters: [email, username, status]"));
    expect(() => loadIntegrations(dir)).toThrow(
      /resources\.users\.delta reads changes by updated_after, which users\.list cannot filter by/,
    );
    writeFileSync(file, okta);
    const entra = join(dir, "microsoft-entra-id", "integration.yaml");
    const graph = readFileSync(entra, "utf8");
    writeFileSync(entra, graph.replace("      pagination: delta\n", "      pagination: deltas\n"));
    expect(() => loadIntegrations(dir)).toThrow(/resources\.users\.delta uses pagination "deltas", which is not declared/);
    writeFileSync(
      entra,
      graph.replace(
        'removed: ["@removed"]\n      response_mapping: users.jsonata',
        'removed: ["@removed"]\n      response_mapping: nobody.jsonata',
      ),
    );
    expect(() => loadIntegrations(dir)).toThrow(/nobody\.jsonata/);
  });

  it("names the file and line of a YAML syntax error", () => {
    const dir = copyOfMappings();
    writeFileSync(join(dir, "postman-scim", "integration.yaml"), "name: [unclosed\n");
    expect(() => loadIntegrations(dir)).toThrow(/postman-scim\/integration\.yaml: .*line 2/s);
  });

  it("rejects an auth template naming an undeclared field", () => {
    const dir = copyOfMappings();
    const file = join(dir, "jostle-scim", "integration.yaml");
    writeFileSync(
      file,
      "name: J\nbase_url: https://x.test/\ncredentials:\n  api_key: { label: K }\nauth:\n  headers:\n    Authorization: 'Bearer {{credentials.token}}'\nverify: { path: /Me }\n",
    );
    expect(() => loadIntegrations(dir)).toThrow(/\{\{credentials\.token\}\}/);
  });

  it("renders auth headers and drops one whose value is empty", () => {
    const integration = loadIntegrations(mappings).get("jumpcloud");
    if (!integration) throw new Error("jumpcloud not loaded");
    expect(authHeaders({ integration, config: {}, credentials: { api_key: "k" } })).toEqual({
      accept: "application/json",
      "x-api-key": "k",
    });
    expect(authHeaders({ integration, config: { org_id: "o" }, credentials: { api_key: "k" } })).toMatchObject({ "x-org-id": "o" });
    expect(render("a/{{x}}/b", { x: "1 2" }, encodeURIComponent)).toBe("a/1%202/b");
    expect(render("{{x}}", {})).toBeUndefined();
  });
});
