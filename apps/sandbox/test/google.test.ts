import { SignJWT } from "jose";
import { createPrivateKey } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GOOGLE_TOKEN_AUDIENCE } from "../src/google/index.ts";
import { type RunningSandbox, startSandbox } from "../src/server.ts";
import { vendorSpecs } from "./spec.ts";

describe("the Google Workspace simulator follows the Directory API's discovery document and its quirks", () => {
  let sandbox: RunningSandbox;
  const specs = vendorSpecs();
  beforeAll(async () => {
    sandbox = await startSandbox({ tenants: [{ name: "acme", users: 620 }] });
  });
  afterAll(() => sandbox.close());

  /** A JWT-bearer grant as a service account signs it. */
  async function assertion(claims: Record<string, unknown>, pem = sandbox.google.serviceAccount("acme").privateKey) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256" })
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(createPrivateKey(pem));
  }
  const tokenFor = async (claims: Record<string, unknown>) =>
    fetch(`${sandbox.baseUrl("google")}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: await assertion(claims) }),
    });
  const account = () => sandbox.google.serviceAccount("acme");
  const scope = "https://www.googleapis.com/auth/admin.directory.user https://www.googleapis.com/auth/admin.directory.group";
  let token = "";
  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${sandbox.baseUrl("google")}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, ...init.headers },
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };

  it("issues a token for the delegated administrator only, and refuses what Google refuses", async () => {
    const ok = await tokenFor({ iss: account().clientEmail, sub: account().subject, scope, aud: GOOGLE_TOKEN_AUDIENCE });
    expect(ok.status).toBe(200);
    const issued = (await ok.json()) as { access_token: string; expires_in: number; token_type: string };
    expect(issued).toMatchObject({ token_type: "Bearer", expires_in: 3599 });
    token = issued.access_token;
    const someoneElse = await tokenFor({ iss: account().clientEmail, sub: "intern@acme.example.com", scope, aud: GOOGLE_TOKEN_AUDIENCE });
    expect(someoneElse.status).toBe(401);
    expect(await someoneElse.json()).toMatchObject({ error: "unauthorized_client" });
    const wrongAudience = await tokenFor({ iss: account().clientEmail, sub: account().subject, scope, aud: "https://example.com/token" });
    expect(wrongAudience.status).toBe(400);
    expect(await wrongAudience.json()).toMatchObject({ error: "invalid_grant" });
    const noToken = await fetch(`${sandbox.baseUrl("google")}/admin/directory/v1/users?customer=my_customer`);
    expect(noToken.status).toBe(401);
    expect(specs.googleError(await noToken.json())).toEqual([]);
  });

  it("pages users by pageToken within maxResults 1–500, needs a customer, and answers the document's shapes", async () => {
    expect((await api("/admin/directory/v1/users")).status).toBe(400);
    expect((await api("/admin/directory/v1/users?customer=my_customer&maxResults=501")).status).toBe(400);
    const ids: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const page = await api(`/admin/directory/v1/users?customer=my_customer&maxResults=500${pageToken ? `&pageToken=${pageToken}` : ""}`);
      expect(page.status).toBe(200);
      expect(specs.google("Users", page.body)).toEqual([]);
      ids.push(...page.body.users.map((u: { id: string }) => u.id));
      pageToken = page.body.nextPageToken;
      pages++;
    } while (pageToken);
    expect(pages).toBe(2);
    expect(new Set(ids).size).toBe(620);
    const one = await api(`/admin/directory/v1/users/${encodeURIComponent(sandbox.google.tenant("acme").users.all()[3]!.primaryEmail)}`);
    expect(specs.google("User", one.body)).toEqual([]);
    const missing = await api("/admin/directory/v1/users/nobody@acme.example.com");
    expect(missing.status).toBe(404);
    expect(specs.googleError(missing.body)).toEqual([]);
  });

  it("answers groups, members, org units and the customer in the document's shapes", async () => {
    const groups = await api("/admin/directory/v1/groups?customer=my_customer");
    expect(specs.google("Groups", groups.body)).toEqual([]);
    // Google sends the member count as a string.
    expect(typeof groups.body.groups[0].directMembersCount).toBe("string");
    const members = await api(`/admin/directory/v1/groups/${groups.body.groups[0].id}/members?maxResults=2`);
    expect(specs.google("Members", members.body)).toEqual([]);
    expect(members.body.members).toHaveLength(2);
    expect(members.body.nextPageToken).toBeDefined();
    expect((await api(`/admin/directory/v1/groups/${groups.body.groups[0].id}/members?maxResults=201`)).status).toBe(400);
    const units = await api("/admin/directory/v1/customer/my_customer/orgunits?type=all");
    expect(specs.google("OrgUnits", units.body)).toEqual([]);
    const customer = await api("/admin/directory/v1/customers/my_customer");
    expect(specs.google("Customer", customer.body)).toEqual([]);
  });

  it("updates only what is sent, suspends, adds and removes a member, and deletes a user", async () => {
    const user = sandbox.google.tenant("acme").users.all()[5]!;
    const updated = await api(`/admin/directory/v1/users/${user.id}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ suspended: true, name: { givenName: "Ada" } }),
    });
    expect(specs.google("User", updated.body)).toEqual([]);
    expect(updated.body).toMatchObject({
      suspended: true,
      name: { givenName: "Ada", familyName: user.name.familyName, fullName: `Ada ${user.name.familyName}` },
    });
    const group = sandbox.google.tenant("acme").groups.all()[2]!;
    const outsider = sandbox.google
      .tenant("acme")
      .users.all()
      .find((u) => !sandbox.google.tenant("acme").members.get(group.id)!.has(u.id))!;
    const added = await api(`/admin/directory/v1/groups/${group.id}/members`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: outsider.id, role: "MEMBER" }),
    });
    expect(specs.google("Member", added.body)).toEqual([]);
    const twice = await api(`/admin/directory/v1/groups/${group.id}/members`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: outsider.id }),
    });
    expect(twice.status).toBe(409);
    expect((await api(`/admin/directory/v1/groups/${group.id}/members/${outsider.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await api(`/admin/directory/v1/users/${user.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await api(`/admin/directory/v1/users/${user.id}`)).status).toBe(404);
  });

  it("answers a passed quota 403 userRateLimitExceeded, without Retry-After, in Google's error body", async () => {
    sandbox.world.setRateLimit("google", 1);
    try {
      let reply = await api("/admin/directory/v1/groups?customer=my_customer");
      for (let i = 0; i < 2 && reply.status === 200; i++) reply = await api("/admin/directory/v1/groups?customer=my_customer");
      expect(reply.status).toBe(403);
      expect(reply.body.error.errors[0].reason).toBe("userRateLimitExceeded");
      expect(specs.googleError(reply.body)).toEqual([]);
    } finally {
      sandbox.world.setRateLimit("google", null);
    }
  });
});
