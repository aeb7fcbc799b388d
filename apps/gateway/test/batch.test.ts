import { describe, expect, it } from "vitest";
import { type Slug, useGatewayWithSandbox } from "./harness.ts";

describe("users batch", () => {
  const fx = useGatewayWithSandbox({ tenants: { acme: 10 } });

  const batch = (slug: Slug, operations: unknown[]) =>
    fx.gw.call("POST", `/unified/user-directory/users/batch?connection_id=${fx.conn[slug]}`, { key: fx.apiKey, body: { operations } });
  const bulkCalls = () =>
    fx.sandbox.world.requests.filter((r) => r.vendor === "jostle" && r.method === "POST" && r.path.endsWith("/Bulk")).length;

  it("sends 120 Jostle operations as exactly three /Bulk calls and answers one result per operation, in order", async () => {
    const operations = Array.from({ length: 120 }, (_, i) => ({
      method: "create",
      data: { username: `bulk${i}@acme.example.com`, first_name: "Bulk", last_name: `User${i}` },
    }));
    const before = bulkCalls();
    const res = await batch("jostle-scim", operations);
    expect(res.status).toBe(200);
    expect(bulkCalls() - before).toBe(3);
    expect(res.body.result).toHaveLength(120);
    const users = fx.sandbox.jostle.tenant("acme");
    for (const [i, item] of (res.body.result as { method: string; status: number; id: string }[]).entries()) {
      expect(item).toMatchObject({ method: "create", status: 201 });
      expect(users.users.get(item.id)?.userName).toBe(`bulk${i}@acme.example.com`);
    }
  });

  it("keeps a Jostle delete's deactivate-then-delete together and reports each operation's own outcome", async () => {
    const users = fx.sandbox.jostle.tenant("acme").users.all();
    const active = users.find((u) => u.active && u.userName.startsWith("bulk1"))!;
    const taken = users[3]!.userName;
    const before = bulkCalls();
    const res = await batch("jostle-scim", [
      { method: "update", id: users.find((u) => u.userName === "bulk2@acme.example.com")!.id, data: { title: "Batch title" } },
      { method: "create", data: { username: taken, first_name: "Dup", last_name: "Licate" } },
      { method: "delete", id: active.id },
      { method: "delete", id: "00000000-0000-4000-a000-000000000000" },
    ]);
    expect(bulkCalls() - before).toBe(1);
    const [update, duplicate, deleted, missing] = res.body.result;
    expect(update).toMatchObject({ method: "update", status: 200 });
    expect(
      fx.sandbox.jostle
        .tenant("acme")
        .users.all()
        .find((u) => u.userName === "bulk2@acme.example.com")?.title,
    ).toBe("Batch title");
    expect(duplicate).toMatchObject({ method: "create", status: 409, error: { code: "conflict", upstream: { status: 409 } } });
    expect(deleted).toEqual({ method: "delete", status: 200, id: active.id, outcome: "deleted" });
    expect(fx.sandbox.jostle.tenant("acme").users.get(active.id)).toBeUndefined();
    expect(missing).toMatchObject({ method: "delete", status: 404, error: { code: "not_found" } });
  });

  for (const slug of ["postman-scim", "jumpcloud"] as const) {
    it(`${slug}: one call per operation, results in order, with the unified record`, async () => {
      const data = (i: number) =>
        slug === "jumpcloud"
          ? { username: `batch${i}`, emails: [{ email: `batch${i}@acme.example.com` }], first_name: "Batch" }
          : { username: `batch${i}@acme.example.com`, first_name: "Batch", last_name: `N${i}` };
      const before = fx.sandbox.world.requests.length;
      const res = await batch(
        slug,
        Array.from({ length: 9 }, (_, i) => ({ method: "create", data: data(i) })),
      );
      expect(fx.sandbox.world.requests.length - before).toBe(9);
      expect(res.body.result.map((r: { data: { username: string } }) => r.data.username)).toEqual(
        Array.from({ length: 9 }, (_, i) => data(i).username),
      );
      const ids = res.body.result.map((r: { id: string }) => r.id);
      const removed = await batch(
        slug,
        ids.map((id: string) => ({ method: "delete", id })),
      );
      expect(removed.body.result.map((r: { outcome: string }) => r.outcome)).toEqual(
        Array(9).fill(slug === "jumpcloud" ? "deleted" : "deactivated"),
      );
    });
  }

  it("refuses the whole batch, writing nothing, when one operation is invalid; and more than 1,000 operations", async () => {
    const before = fx.sandbox.world.requests.length;
    const res = await batch("postman-scim", [
      { method: "create", data: { username: "ok@acme.example.com", first_name: "O", last_name: "K" } },
      { method: "update", id: "x", data: { title: "Postman has no titles" } },
    ]);
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ path: "operations.1.title", message: "Postman cannot set title" }]);
    const noId = await batch("jumpcloud", [{ method: "delete" }]);
    expect(noId.status).toBe(400);
    const tooMany = await batch(
      "jumpcloud",
      Array.from({ length: 1001 }, () => ({ method: "delete", id: "x" })),
    );
    expect(tooMany.status).toBe(400);
    expect(fx.sandbox.world.requests.length).toBe(before);
  });
});
