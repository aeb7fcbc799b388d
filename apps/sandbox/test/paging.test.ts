import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSandbox, startSandbox, type Vendor } from "../src/server.ts";
import { vendorCall } from "./client.ts";

describe("walking every list endpoint page by page returns each record once", () => {
  let sandbox: RunningSandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ tenants: [{ name: "acme", users: 237 }], rateLimits: { postman: 0 } });
  });
  afterAll(() => sandbox.close());

  async function walkScim(vendor: Vendor, path: string, count: number) {
    const ids: string[] = [];
    let total = 0;
    for (let start = 1; ; start += count) {
      const res = await vendorCall(sandbox, vendor, "acme", "GET", `${path}?startIndex=${start}&count=${count}`);
      total = res.body.totalResults;
      ids.push(...res.body.Resources.map((r: { id: string }) => r.id));
      if (res.body.Resources.length === 0 || start + count > total) break;
    }
    return { ids, total };
  }

  async function walkJumpCloud(path: string, limit: number, v2: boolean, sort: string) {
    const ids: string[] = [];
    for (let skip = 0; ; skip += limit) {
      const res = await vendorCall(sandbox, "jumpcloud", "acme", "GET", `${path}?limit=${limit}&skip=${skip}&sort=${sort}`);
      const rows = v2 ? res.body : res.body.results;
      ids.push(...rows.map((r: { id?: string; _id?: string; to?: { id: string } }) => r._id ?? r.id ?? r.to?.id));
      if (rows.length < limit) break;
    }
    return ids;
  }

  it.each([
    ["jostle", "/Users", 7],
    ["jostle", "/Users", 100],
    ["postman", "/Users", 13],
    ["postman", "/Groups", 1],
  ] as const)("%s %s with count %i", async (vendor, path, count) => {
    const { ids, total } = await walkScim(vendor, path, count);
    expect(ids.length).toBe(total);
    expect(new Set(ids).size).toBe(total);
  });

  it.each([
    ["/systemusers", 7, false, "_id"],
    ["/systemusers", 100, false, "_id"],
    ["/organizations", 1, false, "_id"],
    ["/v2/usergroups", 3, true, "id"],
    ["/v2/roles", 2, true, "id"],
  ] as const)("jumpcloud %s with limit %i", async (path, limit, v2, sort) => {
    const ids = await walkJumpCloud(path, limit, v2, sort);
    const everything = v2
      ? (await vendorCall(sandbox, "jumpcloud", "acme", "GET", `${path}?limit=1`)).headers.get("x-total-count")
      : (await vendorCall(sandbox, "jumpcloud", "acme", "GET", `${path}?limit=1`)).body.totalCount;
    expect(ids.length).toBe(Number(everything));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("jumpcloud group members with limit 5", async () => {
    const group = (await vendorCall(sandbox, "jumpcloud", "acme", "GET", "/v2/usergroups?limit=1")).body[0];
    const ids = await walkJumpCloud(`/v2/usergroups/${group.id}/members`, 5, true, "");
    expect(ids.length).toBe(sandbox.jumpcloud.tenant("acme").members.get(group.id)?.size);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
