import { createHash } from "node:crypto";
import postgres from "postgres";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Vendor } from "@unifold/sandbox";
import { describe, expect, it } from "vitest";
import { useGatewayWithSandbox, vendors as shipped } from "./harness.ts";

const vendors: Record<string, Vendor> = { ...shipped, "jostle-nodelete": "jostle" };
type Slug = keyof typeof vendors;

describe("unified writes: refused input and upstream failures", () => {
  const fx = useGatewayWithSandbox<Slug>({
    tenants: { acme: 10 },
    connect: vendors,
    // A copy of mappings/ with one more integration: Jostle without a users delete.
    mappings: (dir) => {
      cpSync(join(dir, "jostle-scim"), join(dir, "jostle-nodelete"), { recursive: true });
      const yaml = join(dir, "jostle-nodelete", "integration.yaml");
      writeFileSync(yaml, readFileSync(yaml, "utf8").replace(/\n {4}delete:\n {6}request_mapping: users\.delete\.jsonata/, ""));
    },
  });

  const call = (method: string, path: string, slug: Slug, body?: unknown, rawBody?: string) =>
    fx.gw.call(method, `/unified/user-directory/${path}?connection_id=${fx.conn[slug]}`, {
      key: fx.apiKey,
      body,
      rawBody,
      headers: rawBody ? { "content-type": "application/json" } : {},
    });
  const firstUser = (slug: "jostle" | "postman" | "jumpcloud") =>
    slug === "jumpcloud" ? fx.sandbox.jumpcloud.tenant("acme").users.all()[0]!._id : fx.sandbox[slug].tenant("acme").users.all()[1]!.id;

  it("refuses unknown fields, wrong types and malformed JSON with 400s naming the field, writing nothing", async () => {
    const before = fx.sandbox.world.requests.length;
    const unknown = await call("POST", "users", "jostle-scim", {
      username: "a@b.example.com",
      first_name: "A",
      last_name: "B",
      nickname: "x",
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe("invalid_request");
    expect(JSON.stringify(unknown.body.error.details)).toMatch(/nickname/);
    const badEmail = await call("POST", "users", "jumpcloud", { username: "ab", emails: [{ email: "not-an-email" }] });
    expect(badEmail.status).toBe(400);
    expect(badEmail.body.error.details[0].path).toMatch(/emails/);
    const badStatus = await call("PATCH", `users/${firstUser("jostle")}`, "jostle-scim", { status: "deleted" });
    expect(badStatus.status).toBe(400);
    expect(badStatus.body.error.details[0].path).toBe("status");
    const malformed = await call("POST", "users", "postman-scim", undefined, "{not json");
    expect(malformed.status).toBe(400);
    expect(fx.sandbox.world.requests.length).toBe(before);
  });

  it("refuses fields the vendor cannot change, naming field and vendor", async () => {
    const before = fx.sandbox.world.requests.length;
    const title = await call("PATCH", `users/${firstUser("postman")}`, "postman-scim", { title: "CTO", first_name: "Z" });
    expect(title.status).toBe(400);
    expect(title.body.error.message).toMatch(/^Postman \(postman-scim\) cannot set title when asked to update a user; it can set /);
    expect(title.body.error.details).toEqual([{ path: "title", message: "Postman cannot set title" }]);
    const externalId = await call("PATCH", `users/${firstUser("jumpcloud")}`, "jumpcloud", { external_id: "X1" });
    expect(externalId.status).toBe(400);
    expect(externalId.body.error.message).toMatch(/JumpCloud.*external_id/);
    const description = await call("POST", "groups", "postman-scim", { name: "Team", description: "no" });
    expect(description.status).toBe(400);
    expect(description.body.error.details[0].path).toBe("description");
    expect(fx.sandbox.world.requests.length).toBe(before);
  });

  it("refuses creates missing what the vendor requires, empty updates, and plans the vendor cannot store", async () => {
    const missing = await call("POST", "users", "jostle-scim", { username: "c@d.example.com", first_name: "C" });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details).toEqual([{ path: "last_name", message: "required" }]);
    const jcMissing = await call("POST", "users", "jumpcloud", { username: "cd" });
    expect(jcMissing.body.error.details).toEqual([{ path: "emails", message: "required" }]);
    expect(jcMissing.body.error.message).toBe("JumpCloud (jumpcloud) needs emails to create a user");
    const empty = await call("PATCH", `users/${firstUser("jostle")}`, "jostle-scim", {});
    expect(empty.status).toBe(400);
    const threeEmails = await call("POST", "users", "jumpcloud", {
      username: "three",
      emails: [{ email: "a@x.example.com" }, { email: "b@x.example.com" }, { email: "c@x.example.com" }],
    });
    expect(threeEmails.status).toBe(400);
    expect(threeEmails.body.error.details[0].path).toBe("emails");
    const groupNoName = await call("PATCH", `groups/${fx.sandbox.jumpcloud.tenant("acme").groups.all()[0]!.id}`, "jumpcloud", {
      description: "d",
    });
    expect(groupNoName.status).toBe(400);
    expect(groupNoName.body.error.details[0].path).toBe("name");
  });

  it("answers resource_not_supported and method_not_allowed, naming integration, resource and method", async () => {
    const groups = await call("POST", "groups", "jostle-scim", { name: "Team" });
    expect(groups.status).toBe(404);
    expect(groups.body.error.code).toBe("resource_not_supported");
    expect(groups.body.error.message).toMatch(/Jostle.*groups/);
    const members = await call("POST", "groups/g1/members", "jostle-scim", { user_id: "u1" });
    expect(members.body.error.code).toBe("resource_not_supported");
    const noDelete = await call("DELETE", `users/${firstUser("jostle")}`, "jostle-nodelete");
    expect(noDelete.status).toBe(405);
    expect(noDelete.body.error.code).toBe("method_not_allowed");
    expect(noDelete.body.error.message).toMatch(/jostle-nodelete.*delete users/);
  });

  it("reports a vendor conflict as 409 with the vendor's detail", async () => {
    const taken = fx.sandbox.jostle.tenant("acme").users.all()[2]!.userName;
    const res = await call("POST", "users", "jostle-scim", { username: taken, first_name: "Dup", last_name: "Licate" });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("conflict");
    expect(res.body.error.message).toMatch(/already taken/);
    expect(res.body.error.upstream).toMatchObject({ status: 409, body: { scimType: "uniqueness" } });
  });

  it("says which step of a lifecycle already happened when a later one fails", async () => {
    const id = firstUser("jostle");
    fx.sandbox.fault({ vendor: "jostle", kind: "status", status: 500, method: "DELETE", path: `/Users/${id}` });
    const res = await call("DELETE", `users/${id}`, "jostle-scim");
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe("upstream_error");
    expect(res.body.error.message).toMatch(new RegExp(`already done before this failed: PATCH /Users/${id}`));
    expect(fx.sandbox.jostle.tenant("acme").users.get(id)).toMatchObject({ active: false });
  });

  it("answers with the user it made when the create is sent again and that answer is lost too, and a replay gets the same", async () => {
    // The first send is reset before the vendor sees it (the lookup finds nothing), the second is carried out and its answer lost.
    fx.sandbox.fault({ vendor: "jostle", kind: "reset", method: "POST", path: "/Users", count: 1 });
    fx.sandbox.fault({ vendor: "jostle", kind: "lost", method: "POST", path: "/Users", count: 1 });
    const body = { username: "twice.lost@acme.example.com", first_name: "Twice", last_name: "Lost" };
    const headers = { "idempotency-key": "twice-lost-1" };
    const res = await fx.gw.call("POST", `/unified/user-directory/users?connection_id=${fx.conn["jostle-scim"]}`, {
      key: fx.apiKey,
      body,
      headers,
    });
    expect(res.status).toBe(201);
    expect(res.body.username).toBe("twice.lost@acme.example.com");
    const stored = fx.sandbox.jostle
      .tenant("acme")
      .users.all()
      .filter((u) => u.userName === "twice.lost@acme.example.com");
    expect(stored.map((u) => u.id)).toEqual([res.body.id]);
    const replay = await fx.gw.call("POST", `/unified/user-directory/users?connection_id=${fx.conn["jostle-scim"]}`, {
      key: fx.apiKey,
      body,
      headers,
    });
    expect([replay.status, replay.body.id]).toEqual([201, res.body.id]);
  });

  it("takes over the Idempotency-Key of a run that died: answers with the user it had made, or makes it", async () => {
    const sql = postgres(fx.gw.databaseUrl, { max: 1, onnotice: () => {} });
    const url = `/unified/user-directory/users?connection_id=${fx.conn["jostle-scim"]}`;
    const keys = (await fx.gw.call("GET", "/api-keys?limit=200")).body.result as { id: string; prefix: string }[];
    const apiKeyId = keys.find((k) => fx.apiKey.startsWith(k.prefix))!.id;
    try {
      for (const [key, landed] of [
        ["dead-run-landed", true],
        ["dead-run-never-sent", false],
      ] as const) {
        const body = { username: `${key}@acme.example.com`, first_name: "Dead", last_name: "Run" };
        // The dead run created the user upstream (or never got that far), then its process was
        // killed before it answered: its claim is left with no answer, older than the lease.
        if (landed) expect((await fx.gw.call("POST", url, { key: fx.apiKey, body })).status).toBe(201);
        const hash = createHash("sha256")
          .update(`POST ${new URL(url, "http://x").pathname}?${new URL(url, "http://x").searchParams}\n`)
          .update(JSON.stringify(body))
          .digest("hex");
        await sql`insert into idempotency_keys (api_key_id, key, request_hash, created_at) values (${apiKeyId}, ${key}, ${hash}, now() - interval '1 hour')`;
        const res = await fx.gw.call("POST", url, { key: fx.apiKey, body, headers: { "idempotency-key": key } });
        expect(res.status, key).toBe(201);
        const stored = fx.sandbox.jostle
          .tenant("acme")
          .users.all()
          .filter((u) => u.userName === body.username);
        expect(
          stored.map((u) => u.id),
          key,
        ).toEqual([res.body.id]);
        // And the key now holds that answer.
        const replay = await fx.gw.call("POST", url, { key: fx.apiKey, body, headers: { "idempotency-key": key } });
        expect([replay.status, replay.body.id, replay.headers.get("idempotent-replayed")]).toEqual([201, res.body.id, "true"]);
      }
    } finally {
      await sql.end();
    }
  });

  it("never creates twice: a create whose answer was lost is found by username instead of being resent", async () => {
    fx.sandbox.fault({ vendor: "jostle", kind: "lost", method: "POST", path: "/Users" });
    const before = fx.sandbox.world.requests.length;
    const res = await call("POST", "users", "jostle-scim", {
      username: "lost.answer@acme.example.com",
      first_name: "Lost",
      last_name: "Answer",
    });
    expect(res.status).toBe(201);
    expect(res.body.username).toBe("lost.answer@acme.example.com");
    const calls = fx.sandbox.world.requests.slice(before).map((r) => r.method);
    expect(calls).toEqual(["POST", "GET"]);
    expect(
      fx.sandbox.jostle
        .tenant("acme")
        .users.all()
        .filter((u) => u.userName === "lost.answer@acme.example.com"),
    ).toHaveLength(1);
  });

  it("resends a create once when the lookup proves the first attempt never landed", async () => {
    fx.sandbox.fault({ vendor: "postman", kind: "reset", method: "POST", path: "/Users" });
    const before = fx.sandbox.world.requests.length;
    const res = await call("POST", "users", "postman-scim", {
      username: "reset.first@acme.example.com",
      first_name: "Reset",
      last_name: "First",
    });
    expect(res.status).toBe(201);
    expect(fx.sandbox.world.requests.slice(before).map((r) => r.method)).toEqual(["POST", "GET", "POST"]);
    expect(
      fx.sandbox.postman
        .tenant("acme")
        .users.all()
        .filter((u) => u.userName === "reset.first@acme.example.com"),
    ).toHaveLength(1);
  });

  it("never resends an update or delete whose answer was lost", async () => {
    const id = firstUser("jumpcloud");
    fx.sandbox.fault({ vendor: "jumpcloud", kind: "lost", method: "PUT", path: `/systemusers/${id}` });
    const before = fx.sandbox.world.requests.length;
    const res = await call("PATCH", `users/${id}`, "jumpcloud", { title: "Once" });
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe("upstream_error");
    expect(fx.sandbox.world.requests.length - before).toBe(1);
  });

  it("passes on a vendor 404 for an unknown id", async () => {
    const res = await call("PATCH", "users/00000000-0000-4000-a000-000000000000", "jostle-scim", { title: "x" });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("not_found");
  });
});
