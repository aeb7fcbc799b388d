import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useGatewayWithSandbox } from "./harness.ts";

/*
 * An integration that gets access tokens (auth.token in integration.yaml), end to end: Okta's
 * OAuth 2.0 for service apps (private_key_jwt), made from mappings/okta by changing its
 * credentials and auth blocks only, against the Okta simulator's token endpoint.
 */
function serviceApp(dir: string) {
  cpSync(join(dir, "okta"), join(dir, "okta-service-app"), { recursive: true });
  const file = join(dir, "okta-service-app", "integration.yaml");
  const yaml = readFileSync(file, "utf8");
  const credentials = yaml.slice(yaml.indexOf("credentials:\n"), yaml.indexOf("config:\n"));
  const auth = yaml.slice(yaml.indexOf("auth:\n"), yaml.indexOf("headers:\n  Accept"));
  writeFileSync(
    file,
    yaml
      .replace("name: Okta\n", "name: Okta service app\n")
      .replace(
        credentials,
        `credentials:
  client_id: { label: Client ID }
  private_key: { label: Private key (PEM) }
`,
      )
      .replace(
        auth,
        `auth:
  token:
    grant: private_key_jwt
    token_url: "{{config.base_url}}/oauth2/v1/token"
    client_id: "{{credentials.client_id}}"
    private_key: "{{credentials.private_key}}"
    scope: okta.users.read okta.users.manage okta.groups.read okta.groups.manage
  headers:
    Authorization: "Bearer {{token}}"
`,
      ),
  );
}

describe("access tokens through the gateway: an Okta service app with private_key_jwt", { timeout: 60_000 }, () => {
  const fx = useGatewayWithSandbox({ tenants: { acme: 30 }, connect: { jumpcloud: "jumpcloud" }, mappings: serviceApp });
  const connect = (credentials: Record<string, string>, config: Record<string, string> = {}) =>
    fx.gw.call("POST", "/connections", {
      body: {
        tenant_id: "acme",
        integration: "okta-service-app",
        credentials,
        config: { base_url: fx.sandbox.baseUrl("okta"), ...config },
      },
    });
  const tokenAsks = () => fx.sandbox.world.requests.filter((r) => r.vendor === "okta" && r.path.endsWith("/oauth2/v1/token")).length;

  it("verifies, reads with the token it got, and gets a fresh one once when Okta ends it early", async () => {
    const app = fx.sandbox.okta.serviceApp("acme");
    const made = await connect({ client_id: app.clientId, private_key: app.privateKey });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const id = made.body.id as string;
    const users = await fx.gw.call("GET", `/unified/user-directory/users?connection_id=${id}&limit=5&remote_data=false`, {
      key: fx.apiKey,
    });
    expect(users.status, JSON.stringify(users.body)).toBe(200);
    expect(users.body.result).toHaveLength(5);

    fx.sandbox.okta.revokeTokens();
    const asked = tokenAsks();
    const again = await fx.gw.call("GET", `/unified/user-directory/groups?connection_id=${id}&limit=2`, { key: fx.apiKey });
    expect(again.status).toBe(200);
    expect(tokenAsks()).toBe(asked + 1);
    expect((await fx.gw.call("GET", `/connections/${id}`)).body.status).toBe("active");
    // Neither the key nor a token is shown anywhere the caller can see.
    const shown = JSON.stringify((await fx.gw.call("GET", `/connections/${id}`)).body);
    expect(shown).not.toContain("PRIVATE KEY");
  });

  it("refuses credentials the token endpoint refuses, naming Okta and its status, and saves nothing", async () => {
    const app = fx.sandbox.okta.serviceApp("acme");
    const before = (await fx.gw.call("GET", "/connections?limit=200")).body.result.length;
    // A key that is no PEM key is refused before anything is sent.
    const asked = tokenAsks();
    const noKey = await connect({
      client_id: app.clientId,
      private_key: "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----",
    });
    expect(noKey.status).toBe(400);
    expect(noKey.body.error.message).toMatch(/the private key is not a PEM private key/);
    expect(tokenAsks()).toBe(asked);
    const unknown = await connect({ client_id: "0oanobody", private_key: app.privateKey });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/^Okta service app rejected the credentials \(upstream status 401\)/);
    expect((await fx.gw.call("GET", "/connections?limit=200")).body.result.length).toBe(before);
  });

  it("marks the connection needs_reauth when the token endpoint stops accepting its key", async () => {
    const app = fx.sandbox.okta.serviceApp("acme");
    const made = await connect({ client_id: app.clientId, private_key: app.privateKey });
    expect(made.status).toBe(201);
    const id = made.body.id as string;
    fx.sandbox.okta.rotateKey("acme");
    fx.sandbox.okta.revokeTokens();
    const failed = await fx.gw.call("GET", `/unified/user-directory/users?connection_id=${id}&limit=1`, { key: fx.apiKey });
    expect(failed.status).toBe(502);
    expect(failed.body.error.code).toBe("upstream_unauthorized");
    expect(failed.body.error.message).toMatch(
      /^Okta service app's token endpoint rejected the connection's credentials \(upstream status 401\): invalid_client/,
    );
    expect((await fx.gw.call("GET", `/connections/${id}`)).body.status).toBe("needs_reauth");
  });

  it("takes config.token_url only where the integration gets tokens, and only an http(s) URL", async () => {
    const app = fx.sandbox.okta.serviceApp("acme");
    const bad = await connect({ client_id: app.clientId, private_key: app.privateKey }, { token_url: "ftp://login.example.com/token" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual([{ path: "config.token_url", message: "must be an absolute http(s) URL without credentials" }]);
    const elsewhere = await fx.gw.call("PATCH", `/connections/${fx.conn.jumpcloud}`, {
      body: { config: { token_url: "https://login.example.com/token" } },
    });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.error.details[0].path).toBe("config.token_url");
  });
});
