import { describe, expect, it } from "vitest";
import type { Caller } from "../src/domain/caller.ts";
import { Failure } from "../src/domain/failure.ts";
import { useGatewayWithSandbox } from "./harness.ts";

/*
 * The domain layer is plain feature modules: a background job or a command calls them exactly as
 * a route does, with no HTTP request anywhere.
 */
describe("the domain layer, called without HTTP", () => {
  const fx = useGatewayWithSandbox({ tenants: { acme: 12 } });
  const job = (tenantId: string | null = null): Caller => ({ apiKey: { id: "job", tenantId }, signal: new AbortController().signal });
  const listUnified = (caller: Caller, input: Parameters<typeof fx.gw.services.unified.list>[1]) =>
    fx.gw.services.unified.list(caller, input);
  const writeUnified = (caller: Caller, input: Parameters<typeof fx.gw.services.unified.write>[1]) =>
    fx.gw.services.unified.write(caller, input);

  it("reads the same unified page a route answers", async () => {
    const id = fx.conn.jumpcloud!;
    const page = await listUnified(job(), { connectionId: id, resource: "users", filters: {}, limit: 5 });
    const http = await fx.gw.call("GET", `/unified/user-directory/users?connection_id=${id}&limit=5&remote_data=false`, { key: fx.apiKey });
    expect(page.objects).toEqual(http.body.result);
    // The cursor it seals is the route's own: the next page continues where the domain call stopped.
    const next = await fx.gw.call(
      "GET",
      `/unified/user-directory/users?connection_id=${id}&limit=5&remote_data=false&cursor=${encodeURIComponent(page.next_cursor!)}`,
      { key: fx.apiKey },
    );
    const ten = await fx.gw.call("GET", `/unified/user-directory/users?connection_id=${id}&limit=10&remote_data=false`, { key: fx.apiKey });
    expect(next.body.result).toEqual(ten.body.result.slice(5, 10));
  });

  it("keeps a tenant-bound caller to its own tenant's connections", async () => {
    const refused = await listUnified(job("globex"), { connectionId: fx.conn.jumpcloud!, resource: "users", filters: {}, limit: 5 }).catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(Failure);
    expect((refused as Failure).code).toBe("not_found");
  });

  it("writes through the integration and answers in the unified model", async () => {
    const created = await writeUnified(job("acme"), {
      connectionId: fx.conn["postman-scim"]!,
      resource: "users",
      kind: "create",
      input: { data: { username: "job.user@acme.example.com", first_name: "Job", last_name: "User" } },
      withRemote: false,
    });
    expect(created.created).toBe(true);
    expect(created.body).toMatchObject({ username: "job.user@acme.example.com", first_name: "Job", last_name: "User" });
    const read = await fx.gw.call("GET", `/unified/user-directory/users/${created.body.id}?connection_id=${fx.conn["postman-scim"]}`, {
      key: fx.apiKey,
    });
    expect(read.body.username).toBe("job.user@acme.example.com");
  });
});
