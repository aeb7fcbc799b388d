import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalJWKSet, exportJWK, jwtVerify } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  createUpstreamClient,
  type Integration,
  IntegrationLoadError,
  loadIntegration,
  TokenRefused,
  UpstreamFailure,
  verifyConnection,
} from "../src/index.ts";

/*
 * Access tokens from a token endpoint, as integration.yaml declares them (`auth.token`), against
 * a real token endpoint and API on loopback.
 */
const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();

interface TokenAsk {
  path: string | undefined;
  form: URLSearchParams;
  authorization: string | undefined;
}

let server: Server;
let base: string;
const asks: TokenAsk[] = [];
const apiSaw: string[] = [];
/** What the token endpoint does next: issue tokens lasting `expiresIn` seconds, or refuse. */
let endpoint: { refuse?: { status: number; body: unknown }; expiresIn?: number } = {};
/** What the API does: accept any token the endpoint issued, except those revoked. */
const revoked = new Set<string>();
let issued = 0;
let echo = false;

const body = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = "";
    req.on("data", (chunk) => (text += chunk));
    req.on("end", () => resolve(text));
  });

beforeAll(async () => {
  server = createServer(async (req, res) => {
    if (req.url === "/oauth/token" || req.url === "/other/token") {
      asks.push({ path: req.url, form: new URLSearchParams(await body(req)), authorization: req.headers.authorization });
      if (endpoint.refuse) {
        res.writeHead(endpoint.refuse.status, { "content-type": "application/json" });
        res.end(JSON.stringify(endpoint.refuse.body));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ access_token: `tok-${++issued}-abcdef`, token_type: "Bearer", expires_in: endpoint.expiresIn ?? 3600 }));
      return;
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    apiSaw.push(token ?? "");
    if (!token?.startsWith("tok-") || revoked.has(token)) {
      res.writeHead(401, { "content-type": "application/json" });
      res.end('{"error":"invalid_token"}');
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id: "org-1", you_sent: echo ? token : "" }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  asks.length = 0;
  apiSaw.length = 0;
  endpoint = {};
  revoked.clear();
  echo = false;
});

/** An integration whose auth.token is `token` (YAML), loaded as the gateway loads one. */
function integrationWith(token: string, extraCredentials = ""): Integration {
  const dir = mkdtempSync(join(tmpdir(), "unifold-token-"));
  mkdirSync(join(dir, "vendor"));
  writeFileSync(
    join(dir, "vendor", "integration.yaml"),
    `name: Vendor
base_url: https://api.example.com
credentials:
  client_id: { label: Client id }
  client_secret: { label: Client secret, required: false }
  private_key: { label: Private key, required: false }
${extraCredentials}
config:
  tenant: { label: Tenant, required: false }
  admin: { label: Administrator, required: false }
auth:
  token:
${token}
  headers:
    Authorization: "Bearer {{token}}"
verify: { path: /org, account: id }
`,
  );
  try {
    return loadIntegration(join(dir, "vendor"), "vendor");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const clientCredentials = integrationWith(`    grant: client_credentials
    token_url: "https://login.example.com/{{config.tenant}}/token"
    client_id: "{{credentials.client_id}}"
    client_secret: "{{credentials.client_secret}}"
    scope: https://api.example.com/.default`);
const credentials = { client_id: "app-1", client_secret: "s3cret-value-9" };
const target = (integration: Integration, extra: Record<string, string> = {}) => ({
  integration,
  config: { base_url: base, token_url: `${base}/oauth/token`, tenant: "t1" },
  credentials: { ...credentials, ...extra },
  connectionId: "c1",
});
const client = () => createUpstreamClient({ network: { allowPrivate: true }, enforceRateLimits: false, retries: 0 });

describe("access tokens from the integration's token endpoint", () => {
  it("asks once with the client credentials, sends the token as the header template says, and reuses it", async () => {
    const upstream = client();
    try {
      const answers = await Promise.all([1, 2, 3].map(() => upstream.request(target(clientCredentials), { method: "GET", path: "/org" })));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
      await upstream.request(target(clientCredentials), { method: "GET", path: "/org" });
      // Three calls at once and one after share one token request.
      expect(asks).toHaveLength(1);
      expect(Object.fromEntries(asks[0]!.form)).toEqual({
        grant_type: "client_credentials",
        client_id: "app-1",
        client_secret: "s3cret-value-9",
        scope: "https://api.example.com/.default",
      });
      expect(new Set(apiSaw)).toEqual(new Set(["tok-" + issued + "-abcdef"]));
    } finally {
      await upstream.close();
    }
  });

  it("gets a new token before the old one expires, and a new one for other credentials", async () => {
    endpoint.expiresIn = 1;
    const upstream = client();
    try {
      await upstream.request(target(clientCredentials), { method: "GET", path: "/org" });
      // Renewed halfway through a life this short.
      await new Promise((resolve) => setTimeout(resolve, 600));
      await upstream.request(target(clientCredentials), { method: "GET", path: "/org" });
      expect(asks).toHaveLength(2);
      await upstream.request(target(clientCredentials, { client_secret: "another-secret-1" }), { method: "GET", path: "/org" });
      expect(asks).toHaveLength(3);
      expect(new Set(apiSaw).size).toBe(3);
    } finally {
      await upstream.close();
    }
  });

  it("answers a 401 to a held token with one fresh token and one more try; a second 401 is the answer", async () => {
    const upstream = client();
    try {
      await upstream.request(target(clientCredentials), { method: "GET", path: "/org" });
      revoked.add(apiSaw[0]!);
      const retried = await upstream.request(target(clientCredentials), { method: "POST", path: "/org", json: { a: 1 } });
      expect(retried.status).toBe(200);
      expect(asks).toHaveLength(2);
      // Every token the endpoint gives is refused: one fresh token, then the 401 goes back.
      for (let i = 1; i <= 20; i++) revoked.add(`tok-${issued + i}-abcdef`);
      revoked.add(apiSaw.at(-1)!);
      const refused = await upstream.request(target(clientCredentials), { method: "GET", path: "/org" });
      expect(refused.status).toBe(401);
      expect(asks).toHaveLength(3);
    } finally {
      await upstream.close();
    }
  });

  it("masks a token the API echoes, as it masks credentials", async () => {
    echo = true;
    const upstream = client();
    try {
      const answer = await upstream.request(target(clientCredentials), { method: "GET", path: "/org" });
      expect(answer.text).not.toContain("tok-");
      expect((answer.body as { you_sent: string }).you_sent).toMatch(/^\*+$/);
    } finally {
      await upstream.close();
    }
  });

  it("refuses credentials the endpoint refuses, in its own words with the secret masked, and verify calls that refused", async () => {
    endpoint.refuse = { status: 401, body: { error: "invalid_client", error_description: "bad secret s3cret-value-9 for app-1" } };
    const upstream = client();
    try {
      const failed = await upstream.request(target(clientCredentials), { method: "GET", path: "/org" }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(TokenRefused);
      expect((failed as TokenRefused).status).toBe(401);
      expect((failed as TokenRefused).said).toBe(`invalid_client: bad secret ${"*".repeat(14)} for app-1`);
      expect((failed as TokenRefused).response!.text).not.toContain("s3cret-value-9");
      const verdict = await verifyConnection(upstream, target(clientCredentials));
      expect(verdict).toMatchObject({ ok: false, refused: true });
      expect(verdict.response.status).toBe(401);
      expect(apiSaw).toEqual([]);
    } finally {
      await upstream.close();
    }
  });

  it("calls no token endpoint the network policy refuses, and renders the endpoint from its template when not overridden", async () => {
    const guarded = createUpstreamClient({ network: { allowPrivate: false }, enforceRateLimits: false, retries: 0 });
    try {
      const failed = await guarded.request(target(clientCredentials), { method: "GET", path: "/org" }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(UpstreamFailure);
      expect((failed as UpstreamFailure).code).toBe("EUNIFOLD_BLOCKED");
      expect(asks).toEqual([]);
    } finally {
      await guarded.close();
    }
    // Without config.token_url, the grant's template names the endpoint.
    const templated = integrationWith(`    grant: client_credentials
    token_url: "{{config.tenant}}/other/token"
    client_id: "{{credentials.client_id}}"
    client_secret: "{{credentials.client_secret}}"`);
    const upstream = client();
    try {
      const answer = await upstream.request(
        { integration: templated, config: { base_url: base, tenant: base }, credentials, connectionId: "c2" },
        { method: "GET", path: "/org" },
      );
      expect(answer.status).toBe(200);
      expect(asks.map((a) => a.path)).toEqual(["/other/token"]);
    } finally {
      await upstream.close();
    }
  });

  it("sends the client id and secret as HTTP Basic when the grant says client_auth: basic", async () => {
    const basic = integrationWith(`    grant: client_credentials
    token_url: "https://login.example.com/token"
    client_id: "{{credentials.client_id}}"
    client_secret: "{{credentials.client_secret}}"
    client_auth: basic`);
    const upstream = client();
    try {
      await upstream.request(target(basic), { method: "GET", path: "/org" });
      expect(asks[0]!.authorization).toBe(`Basic ${Buffer.from("app-1:s3cret-value-9").toString("base64")}`);
      expect(asks[0]!.form.get("client_secret")).toBeNull();
    } finally {
      await upstream.close();
    }
  });

  it("signs a client assertion (private_key_jwt) and a JWT-bearer grant with the connection's key", async () => {
    const jwks = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), alg: "RS256" }] });
    const privateKeyJwt = integrationWith(`    grant: private_key_jwt
    token_url: "https://login.example.com/token"
    client_id: "{{credentials.client_id}}"
    private_key: "{{credentials.private_key}}"
    scope: okta.users.read`);
    const jwtBearer = integrationWith(`    grant: jwt_bearer
    token_url: "https://login.example.com/token"
    issuer: "{{credentials.client_id}}"
    private_key: "{{credentials.private_key}}"
    subject: "{{config.admin}}"
    scope: https://www.googleapis.com/auth/admin.directory.user.readonly`);
    const upstream = client();
    try {
      await upstream.request(target(privateKeyJwt, { private_key: pem }), { method: "GET", path: "/org" });
      const first = asks[0]!.form;
      expect(first.get("grant_type")).toBe("client_credentials");
      expect(first.get("client_assertion_type")).toBe("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
      expect(first.get("scope")).toBe("okta.users.read");
      const assertion = await jwtVerify(first.get("client_assertion")!, jwks, { audience: `${base}/oauth/token` });
      expect(assertion.payload).toMatchObject({ iss: "app-1", sub: "app-1" });

      const delegated = { ...target(jwtBearer, { private_key: pem }) };
      delegated.config = { ...delegated.config, admin: "admin@acme.example.com" } as typeof delegated.config;
      await upstream.request(delegated, { method: "GET", path: "/org" });
      const second = asks[1]!.form;
      expect(second.get("grant_type")).toBe("urn:ietf:params:oauth:grant-type:jwt-bearer");
      const grant = await jwtVerify(second.get("assertion")!, jwks, { audience: `${base}/oauth/token` });
      expect(grant.payload).toMatchObject({
        iss: "app-1",
        sub: "admin@acme.example.com",
        scope: "https://www.googleapis.com/auth/admin.directory.user.readonly",
      });
      // A key that is no key is refused before anything is sent.
      const broken = await upstream
        .request(target(jwtBearer, { private_key: "not a key" }), { method: "GET", path: "/org" })
        .catch((e: unknown) => e);
      expect(broken).toMatchObject({ name: "TokenRefused", status: 0 });
      expect(asks).toHaveLength(2);
    } finally {
      await upstream.close();
    }
  });

  it("refuses at load a grant template or a {{token}} that names nothing", () => {
    expect(() =>
      integrationWith(`    grant: client_credentials
    token_url: "https://login.example.com/{{config.nowhere}}/token"
    client_id: "{{credentials.client_id}}"
    client_secret: "{{credentials.client_secret}}"`),
    ).toThrow(IntegrationLoadError);
  });
});
