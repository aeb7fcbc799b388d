import { describe, expect, it } from "vitest";
import { loadIntegrations } from "@unifold/engine";
import { connectSandbox, mappingsDir, type Slug, useGatewayWithSandbox, vendors } from "./harness.ts";

const shipped = loadIntegrations(mappingsDir);

/** The unified model's user with nothing known: every field present, null or []. */
const noUser = {
  external_id: null,
  username: null,
  name: null,
  first_name: null,
  last_name: null,
  title: null,
  emails: [],
  phones: [],
  status: null,
  department: null,
  manager_id: null,
  employee_number: null,
  addresses: [],
  roles: [],
  groups: [],
  organizations: [],
  is_2fa_enabled: null,
  created_at: null,
  updated_at: null,
  last_login_at: null,
};
/** Vendor times as the model answers them: ISO-8601 UTC with milliseconds, ending in Z. */
const utc = (time: string) => new Date(time).toISOString();
// Jostle's type values in the model's terms (mappings/jostle-scim/integration.yaml, values).
const jostleTypes: Record<string, string> = {
  work: "work",
  personal: "personal",
  alternate1: "other",
  alternate2: "other",
  workofficephone: "work",
  workmobilephone: "mobile",
  homephone: "home",
  personalmobilephone: "mobile",
  address1: "work",
  address2: "other",
};

/** Both vendors store SCIM-style addresses; this is the unified shape each maps to. */
const unifiedAddress = (a: any, type = a.type) => ({
  type,
  street: a.streetAddress,
  city: a.locality,
  region: a.region,
  postal_code: a.postalCode,
  country: a.country,
});

describe("unified reads over the sandbox", () => {
  const fx = useGatewayWithSandbox({ tenants: { acme: 57, globex: 12, initech: 150 } });

  const get = (path: string, slug: Slug, query = "") =>
    fx.gw.call("GET", `${path}?connection_id=${fx.conn[slug]}${query}`, { key: fx.apiKey });

  it("maps a JumpCloud system user field by field, with remote_data", async () => {
    const raw = fx.sandbox.jumpcloud.tenant("acme").users.all()[5]!;
    const res = await get(`/unified/user-directory/users/${raw._id}`, "jumpcloud");
    expect(res.status).toBe(200);
    const r = raw as any;
    expect(res.body).toEqual({
      ...noUser,
      id: r._id,
      username: r.username,
      name: r.displayname,
      first_name: r.firstname,
      last_name: r.lastname,
      title: r.jobTitle,
      emails: [
        { email: r.email, type: "work", is_primary: true },
        { email: r.alternateEmail, type: "other", is_primary: false },
      ],
      phones: r.phoneNumbers.map((p: any) => ({ number: p.number, extension: null, type: p.type })),
      status: r.state === "ACTIVATED" ? "active" : r.state === "SUSPENDED" ? "inactive" : "invited",
      department: r.department,
      manager_id: r.manager,
      employee_number: r.employeeIdentifier,
      addresses: r.addresses.map((a: any) => unifiedAddress(a)),
      organizations: [{ id: r.organization, name: null }],
      is_2fa_enabled: r.mfa.configured,
      created_at: utc(r.created),
      remote_data: r,
    });
  });

  it("maps JumpCloud states: ACTIVATED→active, ACTIVATED+suspended→inactive, SUSPENDED→inactive, STAGED→invited", async () => {
    const make = async (body: object) =>
      (await fx.gw.call("POST", `/passthrough/systemusers?connection_id=${fx.conn.jumpcloud}`, { key: fx.apiKey, body })).body
        ._id as string;
    const cases: [object, string][] = [
      [{ state: "ACTIVATED" }, "active"],
      [{ state: "SUSPENDED" }, "inactive"],
      [{ state: "STAGED" }, "invited"],
    ];
    for (const [i, [extra, status]] of cases.entries()) {
      const id = await make({ username: `state${i}`, email: `state${i}@acme.example.com`, ...extra });
      expect((await get(`/unified/user-directory/users/${id}`, "jumpcloud", "&remote_data=false")).body.status).toBe(status);
    }
    const id = await make({ username: "state-susp", email: "state-susp@acme.example.com" });
    const tenant = fx.sandbox.jumpcloud.tenant("acme");
    tenant.users.put({ ...tenant.users.get(id)!, suspended: true });
    expect((await get(`/unified/user-directory/users/${id}`, "jumpcloud")).body.status).toBe("inactive");
  });

  it("maps a Jostle SCIM user field by field, including the enterprise and Jostle extensions", async () => {
    const raw = fx.sandbox.jostle.tenant("acme").users.all()[3] as any;
    const res = await get(`/unified/user-directory/users/${raw.id}`, "jostle-scim", "&remote_data=false");
    const enterprise = raw["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
    expect(res.body).toEqual({
      ...noUser,
      id: raw.id,
      username: raw.userName,
      name: `${raw.name.givenName} ${raw.name.familyName}`,
      first_name: raw.name.givenName,
      last_name: raw.name.familyName,
      title: raw.title,
      emails: raw.emails.map((e: any) => ({ email: e.value, type: jostleTypes[e.type], is_primary: e.primary })),
      phones: raw.phoneNumbers.map((p: any) => ({ number: p.value, extension: null, type: jostleTypes[p.type] })),
      status: raw.active ? "active" : "inactive",
      department: enterprise.department,
      manager_id: enterprise.manager.value,
      employee_number: raw["urn:ietf:params:scim:schemas:extension:jostle:2.0:User"].employeeID,
      addresses: raw.addresses.map((a: any) => unifiedAddress(a, jostleTypes[a.type])),
      created_at: utc(raw.meta.created),
      updated_at: utc(raw.meta.lastModified),
    });
    expect(res.body).not.toHaveProperty("remote_data");
  });

  it("maps a Postman user and group field by field, and lists a group's members", async () => {
    const tenant = fx.sandbox.postman.tenant("acme");
    const raw = tenant.users.all()[2]!;
    const user = await get(`/unified/user-directory/users/${raw.id}`, "postman-scim", "&remote_data=false");
    expect(user.body).toEqual({
      ...noUser,
      id: raw.id,
      external_id: raw.externalId,
      username: raw.userName,
      name: `${raw.name.givenName} ${raw.name.familyName}`,
      first_name: raw.name.givenName,
      last_name: raw.name.familyName,
      emails: [{ email: raw.userName, type: "work", is_primary: true }],
      status: raw.active ? "active" : "inactive",
      created_at: utc(raw.meta.created),
      updated_at: utc(raw.meta.lastModified),
    });
    const group = tenant.groups.all()[0]!;
    const mapped = await get(`/unified/user-directory/groups/${group.id}`, "postman-scim", "&remote_data=false");
    expect(mapped.body).toEqual({
      id: group.id,
      name: group.displayName,
      description: null,
      group_type: "group",
      member_count: group.members.length,
      created_at: utc(group.meta.created),
      updated_at: utc(group.meta.lastModified),
    });
    const members = await get(`/unified/user-directory/groups/${group.id}/members`, "postman-scim", "&limit=200&remote_data=false");
    expect(members.body.result).toEqual(group.members.map((m) => ({ user_id: m.value, name: m.display })));
  });

  it("serves Jostle's me, JumpCloud's organizations, roles and HRIS resources", async () => {
    const me = await get("/unified/user-directory/me", "jostle-scim");
    expect(me.body.username).toBe("automation@acme.example.com");
    const org = fx.sandbox.jumpcloud.tenant("acme").organization;
    const orgs = await get("/unified/user-directory/organizations", "jumpcloud", "&remote_data=false");
    expect(orgs.body.result).toEqual([{ id: org._id, name: org.displayName, created_at: utc(org.created), updated_at: null }]);
    expect((await get("/unified/hris/companies", "jumpcloud", "&remote_data=false")).body.result).toEqual(orgs.body.result);
    const roles = await get("/unified/user-directory/roles", "jumpcloud", "&limit=200&remote_data=false");
    expect(roles.body.result).toEqual(
      fx.sandbox.jumpcloud
        .tenant("acme")
        .roles.map((r) => ({ id: r.id, name: r.name, description: r.description, created_at: null, updated_at: null }))
        .sort((a, b) => (a.id < b.id ? -1 : 1)),
    );
    const raw = fx.sandbox.jumpcloud.tenant("acme").users.all()[7] as any;
    const employee = await get(`/unified/hris/employees/${raw._id}`, "jumpcloud", "&remote_data=false");
    expect(employee.body).toMatchObject({
      id: raw._id,
      job_title: raw.jobTitle,
      employment_type: raw.employeeType,
      company: raw.company,
      cost_center: raw.costCenter,
      location: raw.location,
      department: raw.department,
    });
    const hrisGroups = await get("/unified/hris/groups", "jumpcloud", "&limit=200");
    expect(hrisGroups.body.result_count).toBe(fx.sandbox.jumpcloud.tenant("acme").groups.size);
  });

  const lists: [Slug, string, () => number][] = [
    ["jostle-scim", "/unified/user-directory/users", () => fx.sandbox.jostle.tenant("acme").users.size],
    ["postman-scim", "/unified/user-directory/users", () => fx.sandbox.postman.tenant("acme").users.size],
    ["postman-scim", "/unified/user-directory/groups", () => fx.sandbox.postman.tenant("acme").groups.size],
    ["jumpcloud", "/unified/user-directory/users", () => fx.sandbox.jumpcloud.tenant("acme").users.size],
    ["jumpcloud", "/unified/hris/employees", () => fx.sandbox.jumpcloud.tenant("acme").users.size],
    ["jumpcloud", "/unified/user-directory/groups", () => fx.sandbox.jumpcloud.tenant("acme").groups.size],
    ["jumpcloud", "/unified/user-directory/roles", () => fx.sandbox.jumpcloud.tenant("acme").roles.length],
    ["jumpcloud", "/unified/user-directory/organizations", () => 1],
  ];
  for (const [slug, path, size] of lists) {
    for (const limit of [1, 7, 50, 200]) {
      it(`walks every page of ${slug} ${path} with limit ${limit}, each record once`, async () => {
        const ids: string[] = [];
        let cursor: string | null = null;
        do {
          const res = await get(path, slug, `&limit=${limit}&remote_data=false${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
          expect(res.status).toBe(200);
          expect(res.body.result.length).toBeLessThanOrEqual(limit);
          if (res.body.next_cursor) expect(res.body.result.length).toBeGreaterThan(0);
          ids.push(...res.body.result.map((r: { id: string }) => r.id));
          cursor = res.body.next_cursor;
        } while (cursor);
        expect(ids.length).toBe(size());
        expect(new Set(ids).size).toBe(ids.length);
      });
    }
  }

  it("reads a page of the vendor's maximum size in one upstream call when the vendor reports a total", async () => {
    const initech = await connectSandbox(fx.gw, fx.sandbox, "initech");
    for (const slug of Object.keys(vendors) as Slug[]) {
      const page = (cursor?: string) =>
        fx.gw.call(
          "GET",
          `/unified/user-directory/users?connection_id=${initech.conn[slug]}&limit=100&remote_data=false${cursor ? `&cursor=${cursor}` : ""}`,
          {
            key: initech.apiKey,
          },
        );
      let before = fx.sandbox.world.requests.length;
      const first = await page();
      expect(first.body.result).toHaveLength(100);
      expect(first.body.next_cursor).not.toBeNull();
      expect(fx.sandbox.world.requests.length - before, `${slug}: no probe after a full page of a known total`).toBe(1);
      before = fx.sandbox.world.requests.length;
      const second = await page(first.body.next_cursor);
      expect(second.body.result.length).toBeGreaterThanOrEqual(50);
      expect(second.body.next_cursor).toBeNull();
      expect(fx.sandbox.world.requests.length - before).toBe(1);
    }
  });

  it("walks a JumpCloud group's members across pages", async () => {
    const group = fx.sandbox.jumpcloud.tenant("acme").groups.all()[0]!;
    const expected = [...fx.sandbox.jumpcloud.tenant("acme").members.get(group.id)!];
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(
        `/unified/user-directory/groups/${group.id}/members`,
        "jumpcloud",
        `&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      ids.push(...res.body.result.map((m: { user_id: string }) => m.user_id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(ids.sort()).toEqual(expected.sort());
  });

  it("sends a filter value as a SCIM string, with quotes, backslashes and control characters escaped", async () => {
    const odd = 'we"ird\\name\tx@acme.example.com';
    const created = await fx.gw.call("POST", `/unified/user-directory/users?connection_id=${fx.conn["jostle-scim"]}`, {
      key: fx.apiKey,
      body: { username: odd, first_name: "Odd", last_name: "Name" },
    });
    expect(created.status).toBe(201);
    const found = await get("/unified/user-directory/users", "jostle-scim", `&username=${encodeURIComponent(odd)}&remote_data=false`);
    expect(found.status).toBe(200);
    expect(found.body.result.map((u: { id: string; username: string }) => [u.id, u.username])).toEqual([[created.body.id, odd]]);
    // A prefix of it, ending in the backslash, is another value, not an unterminated string.
    const prefix = await get("/unified/user-directory/users", "jostle-scim", `&username=${encodeURIComponent('we"ird\\')}`);
    expect(prefix.status).toBe(200);
    expect(prefix.body.result).toEqual([]);
  });

  it("pushes filters upstream: Jostle username (unpaged), Postman username and status, JumpCloud email, username, status", async () => {
    const jostleUser = fx.sandbox.jostle.tenant("acme").users.all()[9] as any;
    const before = fx.sandbox.world.requests.length;
    const jostle = await get("/unified/user-directory/users", "jostle-scim", `&username=${encodeURIComponent(jostleUser.userName)}`);
    expect(jostle.body.result.map((u: { id: string }) => u.id)).toEqual([jostleUser.id]);
    const sent = fx.sandbox.world.requests.slice(before).find((r) => r.vendor === "jostle");
    expect(sent).toBeDefined();

    const inactive = await get("/unified/user-directory/users", "postman-scim", "&status=inactive&limit=200&remote_data=false");
    const expectedInactive = fx.sandbox.postman
      .tenant("acme")
      .users.all()
      .filter((u) => !u.active).length;
    expect(inactive.body.result.length).toBe(expectedInactive);
    expect(inactive.body.result.every((u: { status: string }) => u.status === "inactive")).toBe(true);

    const jc = fx.sandbox.jumpcloud.tenant("acme").users.all()[11] as any;
    for (const query of [`&email=${encodeURIComponent(jc.email)}`, `&username=${encodeURIComponent(jc.username)}`]) {
      const res = await get("/unified/user-directory/users", "jumpcloud", query);
      expect(res.body.result.map((u: { id: string }) => u.id)).toEqual([jc._id]);
    }
    const invited = await get("/unified/user-directory/users", "jumpcloud", "&status=invited&limit=200");
    expect(invited.body.result.length).toBeGreaterThan(0);
    expect(invited.body.result.every((u: { status: string }) => u.status === "invited")).toBe(true);
  });

  it("carries each listed record's upstream JSON as remote_data, non-ASCII names included", async () => {
    const created = await fx.gw.call("POST", `/passthrough/systemusers?connection_id=${fx.conn.jumpcloud}`, {
      key: fx.apiKey,
      body: { username: "zoe.unal", email: "zoe.unal@acme.example.com", firstname: "Zoë", lastname: "Ünal 😀" },
    });
    expect(created.status).toBe(200);
    for (const slug of Object.keys(vendors) as Slug[]) {
      const page = await get("/unified/user-directory/users", slug, "&limit=200");
      expect(page.status).toBe(200);
      // The same records straight from the vendor, through the passthrough.
      const upstreamPath =
        {
          jumpcloud: "systemusers?limit=100&sort=_id",
          okta: `api/v1/users?limit=100&filter=${encodeURIComponent('lastUpdated gt "1970-01-01T00:00:00.000Z"')}`,
          "google-workspace": "admin/directory/v1/users?customer=my_customer&orderBy=email&maxResults=100",
          // The list's own $select and $expand: Graph answers other properties otherwise.
          "microsoft-entra-id": `v1.0/users?$top=100&${new URLSearchParams(shipped.get("microsoft-entra-id")!.resources.users!.list!.query)}`,
        }[slug] ?? "Users?startIndex=1&count=100";
      const upstream = await fx.gw.call("GET", `/passthrough/${upstreamPath}&connection_id=${fx.conn[slug]}`, { key: fx.apiKey });
      const records = (
        Array.isArray(upstream.body)
          ? upstream.body
          : (upstream.body.results ?? upstream.body.Resources ?? upstream.body.users ?? upstream.body.value)
      ) as {
        id?: string;
        _id?: string;
      }[];
      expect(page.body.result.slice(0, records.length).map((user: any) => user.remote_data)).toEqual(records);
      expect(page.text.split('"remote_data":').length - 1).toBe(page.body.result_count);
    }
    const zoe = await get("/unified/user-directory/users", "jumpcloud", "&username=zoe.unal");
    expect(zoe.body.result).toHaveLength(1);
    expect(zoe.body.result[0]).toMatchObject({
      first_name: "Zoë",
      last_name: "Ünal 😀",
      remote_data: { firstname: "Zoë", lastname: "Ünal 😀" },
    });
    // Without remote_data the page is answered as text: its length counted in bytes, not characters.
    const bare = await get("/unified/user-directory/users", "jumpcloud", "&username=zoe.unal&remote_data=false");
    expect(bare.body.result[0]).toMatchObject({ first_name: "Zoë", last_name: "Ünal 😀" });
    expect(bare.body.result[0]).not.toHaveProperty("remote_data");
    expect(bare.headers.get("content-length")).toBe(String(Buffer.byteLength(bare.text)));
  });

  it("passes the upstream's rate-limit state on with a page, proxy and unified alike, beside its content type and request id", async () => {
    // Postman's API (and its simulator, with a limit set) states its rate limit on every answer.
    fx.sandbox.world.setRateLimit("postman", 300);
    try {
      const connection = fx.conn["postman-scim"];
      for (const path of [
        `/proxy/Users?connection_id=${connection}&limit=2`,
        `/unified/user-directory/users?connection_id=${connection}&limit=2`,
        `/unified/user-directory/users?connection_id=${connection}&limit=2&remote_data=false`,
      ]) {
        const res = await fx.gw.call("GET", path, { key: fx.apiKey, headers: { "x-request-id": "trace-rate" } });
        expect(res.status, path).toBe(200);
        expect(res.body.result, path).toHaveLength(2);
        expect(res.headers.get("ratelimit-limit"), path).toBe("300");
        expect(Number(res.headers.get("ratelimit-remaining")), path).toBeLessThan(300);
        expect(res.headers.get("ratelimit-reset"), path).toMatch(/^\d+$/);
        expect(res.headers.get("content-type"), path).toBe("application/json");
        expect(res.headers.get("x-request-id"), path).toBe("trace-rate");
        if (path.endsWith("remote_data=false")) expect(res.body.result[0], path).not.toHaveProperty("remote_data");
      }
    } finally {
      fx.sandbox.world.setRateLimit("postman", null);
    }
  });

  it("proxies a vendor resource list in the envelope with Unifold cursors, and one record verbatim", async () => {
    const page = await fx.gw.call("GET", `/proxy/systemusers?connection_id=${fx.conn.jumpcloud}&limit=5`, { key: fx.apiKey });
    expect(page.status).toBe(200);
    expect(page.body.result).toHaveLength(5);
    expect(page.body.result[0]).toHaveProperty("_id");
    const next = await fx.gw.call(
      "GET",
      `/proxy/systemusers?connection_id=${fx.conn.jumpcloud}&limit=5&cursor=${encodeURIComponent(page.body.next_cursor)}`,
      { key: fx.apiKey },
    );
    expect(next.body.result[0]._id).not.toBe(page.body.result[0]._id);
    const one = await fx.gw.call("GET", `/proxy/Users/${page.body.result[0]._id}?connection_id=${fx.conn["postman-scim"]}`, {
      key: fx.apiKey,
    });
    expect(one.status).toBe(404);
    expect(one.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "404" });
    const scimUser = fx.sandbox.postman.tenant("acme").users.all()[0]!;
    const verbatim = await fx.gw.call("GET", `/proxy/Users/${scimUser.id}?connection_id=${fx.conn["postman-scim"]}`, { key: fx.apiKey });
    expect(verbatim.body).toEqual(scimUser);
  });

  it("passes a call through with auth injected, the caller's Authorization never forwarded", async () => {
    const before = fx.sandbox.world.requests.length;
    const res = await fx.gw.call("GET", `/passthrough/v2/usergroups?limit=2&connection_id=${fx.conn.jumpcloud}`, {
      key: fx.apiKey,
      headers: { cookie: "a=b" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(2);
    expect(res.headers.get("x-total-count")).toBe(String(fx.sandbox.jumpcloud.tenant("acme").groups.size));
    const seen = fx.sandbox.world.requests.slice(before);
    expect(seen.map((r) => r.path)).toEqual(["/jumpcloud/api/v2/usergroups"]);
    const created = await fx.gw.call("POST", `/passthrough/Groups?connection_id=${fx.conn["postman-scim"]}`, {
      key: fx.apiKey,
      body: { displayName: "Through" },
    });
    expect(created.status).toBe(201);
    expect(created.body.displayName).toBe("Through");
  });
});
