import { generateKeyPairSync, randomBytes } from "node:crypto";
import { type Context, Hono } from "hono";
import { jwtVerify } from "jose";
import { Collection } from "../collection.ts";
import { stableHex } from "../directory.ts";
import { perTenant, type SandboxEnv, type World } from "../world.ts";

/*
 * Google Workspace's Admin SDK Directory API (docs/upstreams/google-workspace.md;
 * docs/vendor-specs/google/): a service account signs a JWT-bearer grant for a delegated
 * administrator at Google's token endpoint, lists need `customer=my_customer` (or a domain),
 * pages by `pageToken`/`nextPageToken`, `maxResults` is bounded per list, and errors are
 * `{error: {code, message, errors: [{domain, reason, message}]}}`.
 */

export interface GoogleUser {
  kind: "admin#directory#user";
  id: string;
  etag: string;
  primaryEmail: string;
  name: { givenName: string; familyName: string; fullName: string };
  isAdmin: boolean;
  isDelegatedAdmin: boolean;
  lastLoginTime: string;
  creationTime: string;
  agreedToTerms: boolean;
  suspended: boolean;
  suspensionReason?: string;
  archived: boolean;
  changePasswordAtNextLogin: boolean;
  ipWhitelisted: boolean;
  emails: { address: string; primary?: boolean; type?: string }[];
  phones?: { value: string; type: string }[];
  addresses?: Record<string, unknown>[];
  organizations?: Record<string, unknown>[];
  relations?: { value: string; type: string }[];
  externalIds?: { value: string; type: string }[];
  customerId: string;
  orgUnitPath: string;
  isMailboxSetup: boolean;
  isEnrolledIn2Sv: boolean;
  isEnforcedIn2Sv: boolean;
  includeInGlobalAddressList: boolean;
}

export interface GoogleGroup {
  kind: "admin#directory#group";
  id: string;
  etag: string;
  email: string;
  name: string;
  directMembersCount: string;
  description: string;
  adminCreated: boolean;
}

export interface OrgUnit {
  kind: "admin#directory#orgUnit";
  etag: string;
  name: string;
  description: string;
  orgUnitPath: string;
  orgUnitId: string;
  parentOrgUnitPath: string;
  parentOrgUnitId: string;
}

/** Each list's page bound, and what it answers when `maxResults` is absent. */
const USERS = { max: 500, fallback: 100 };
const GROUPS = { max: 200, fallback: 200 };
const MEMBERS = { max: 200, fallback: 200 };
const TOKEN_SECONDS = 3599;
/** Google's own token endpoint audience: an assertion must name it. */
export const GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token";

const numericId = (seed: string, label: string) =>
  `1${BigInt(`0x${stableHex(seed, label, 16)}`)
    .toString()
    .padStart(20, "0")
    .slice(0, 20)}`;
const etag = () => `"${randomBytes(12).toString("base64url")}"`;

/** Google's error body. */
export function googleError(code: number, message: string, reason = "invalid") {
  return { error: { code, message, errors: [{ message, domain: "global", reason }] } };
}

export class GoogleTenant {
  readonly users = new Collection<GoogleUser>((u) => u.id);
  readonly groups = new Collection<GoogleGroup>((g) => g.id);
  readonly members = new Map<string, Set<string>>();
  readonly orgUnits: OrgUnit[];
  readonly customerId: string;
  readonly domain: string;

  constructor(world: World, tenant: string) {
    const directory = world.directory(tenant);
    this.domain = directory.domain;
    this.customerId = `C0${stableHex(world.seed, `google:${tenant}:customer`, 7)}`;
    const rootId = `id:${stableHex(world.seed, `google:${tenant}:ou:/`, 12)}`;
    const departments = [...new Set(directory.people.map((p) => p.department))];
    this.orgUnits = departments.map((department) => ({
      kind: "admin#directory#orgUnit",
      etag: etag(),
      name: department,
      description: `Everyone in ${department}`,
      orgUnitPath: `/${department}`,
      orgUnitId: `id:${stableHex(world.seed, `google:${tenant}:ou:${department}`, 12)}`,
      parentOrgUnitPath: "/",
      parentOrgUnitId: rootId,
    }));
    const ids = directory.people.map((p) => numericId(world.seed, `google:${tenant}:user:${p.index}`));
    for (const p of directory.people) {
      const suspended = p.state === "inactive";
      this.users.put({
        kind: "admin#directory#user",
        id: ids[p.index]!,
        etag: etag(),
        primaryEmail: p.email,
        name: { givenName: p.firstName, familyName: p.lastName, fullName: `${p.firstName} ${p.lastName}` },
        isAdmin: p.index === 0,
        isDelegatedAdmin: false,
        // Google's "never signed in" is the epoch, not null.
        lastLoginTime: p.state === "staged" ? "1970-01-01T00:00:00.000Z" : p.updated,
        creationTime: p.created,
        agreedToTerms: p.state !== "staged",
        suspended,
        ...(suspended && { suspensionReason: "ADMIN" }),
        archived: false,
        changePasswordAtNextLogin: p.state === "staged",
        ipWhitelisted: false,
        emails: [
          { address: p.email, primary: true },
          { address: p.personalEmail, type: "home" },
        ],
        phones: [
          { value: p.workPhone, type: "work" },
          { value: p.mobilePhone, type: "mobile" },
        ],
        addresses: [
          {
            type: "work",
            streetAddress: p.address.street,
            locality: p.address.city,
            region: p.address.region,
            postalCode: p.address.postalCode,
            countryCode: p.address.country,
            primary: true,
          },
        ],
        organizations: [
          { name: directory.company, title: p.title, department: p.department, costCenter: p.costCenter, primary: true, type: "work" },
        ],
        // Google names the manager by email address, not by id.
        ...(p.manager !== null && { relations: [{ value: directory.people[p.manager]!.email, type: "manager" }] }),
        externalIds: [{ value: p.employeeNumber, type: "organization" }],
        customerId: this.customerId,
        orgUnitPath: `/${p.department}`,
        isMailboxSetup: true,
        isEnrolledIn2Sv: p.mfa,
        isEnforcedIn2Sv: false,
        includeInGlobalAddressList: true,
      });
    }
    for (const [t, team] of directory.teams.entries()) {
      const id = stableHex(world.seed, `google:${tenant}:group:${t}`, 15);
      this.groups.put({
        kind: "admin#directory#group",
        id,
        etag: etag(),
        email: `${team.name.toLowerCase().replace(/[^a-z0-9]+/g, "-")}@${directory.domain}`,
        name: team.name,
        directMembersCount: String(team.members.length),
        description: team.description,
        adminCreated: true,
      });
      this.members.set(id, new Set(team.members.map((i) => ids[i]!)));
    }
  }

  private sorted: { version: number; users: GoogleUser[] } | undefined;

  /** The users in email order, sorted again only after a change (a 100,000-user walk asks for it every page). */
  byEmail(): GoogleUser[] {
    if (this.sorted?.version !== this.users.version) {
      const users = this.users.all().sort((a, b) => (a.primaryEmail < b.primaryEmail ? -1 : 1));
      this.sorted = { version: this.users.version, users };
    }
    return this.sorted.users;
  }

  /** A user by id, primary email or alias (Google's userKey). */
  user(key: string): GoogleUser | undefined {
    return this.users.get(key) ?? this.users.all().find((u) => u.primaryEmail.toLowerCase() === key.toLowerCase());
  }

  group(key: string): GoogleGroup | undefined {
    return this.groups.get(key) ?? this.groups.all().find((g) => g.email.toLowerCase() === key.toLowerCase());
  }

  setMembers(groupId: string, members: Set<string>): void {
    this.members.set(groupId, members);
    const group = this.groups.get(groupId)!;
    this.groups.put({ ...group, etag: etag(), directMembersCount: String(members.size) });
  }
}

/** A service account: its address and private key (the JSON key file's `client_email` and `private_key`). */
export interface ServiceAccount {
  clientEmail: string;
  privateKey: string;
  publicKey: ReturnType<typeof generateKeyPairSync>["publicKey"];
}

export function googleRoutes(world: World) {
  const tenantState = perTenant((name) => new GoogleTenant(world, name));
  const accounts = perTenant((tenant): ServiceAccount => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    return {
      clientEmail: `unifold-sync@${tenant}-project.iam.gserviceaccount.com`,
      privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      publicKey,
    };
  });
  /** The administrator each tenant's service account may act for (domain-wide delegation). */
  const admin = (tenant: string) => world.directory(tenant).people[0]!.email;
  const tokens = new Map<string, { tenant: string; expiresAt: number }>();
  const app = new Hono<SandboxEnv>();

  // Google's token endpoint (oauth2.googleapis.com/token): the JWT-bearer grant of a service account.
  app.use("/token", world.logged("google"));
  app.post("/token", async (c) => {
    const form = new URLSearchParams(await c.req.text());
    const refuse = (status: 400 | 401, error: string, description: string) => c.json({ error, error_description: description }, status);
    if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer")
      return refuse(400, "unsupported_grant_type", "Invalid grant_type: ");
    const assertion = form.get("assertion") ?? "";
    let claims: { iss?: string; sub?: string; scope?: string; aud?: string };
    try {
      claims = JSON.parse(Buffer.from(assertion.split(".")[1] ?? "", "base64url").toString("utf8"));
    } catch {
      return refuse(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.");
    }
    const tenant = world.tenants.find((t) => accounts(t.name).clientEmail === claims.iss)?.name;
    if (!tenant) return refuse(401, "invalid_client", "The OAuth client was not found.");
    try {
      await jwtVerify(assertion, accounts(tenant).publicKey, { audience: GOOGLE_TOKEN_AUDIENCE, maxTokenAge: "1h" });
    } catch {
      return refuse(400, "invalid_grant", "Invalid JWT Signature.");
    }
    const scopes = (claims.scope ?? "").split(" ").filter(Boolean);
    // Domain-wide delegation: only for the tenant's administrator, and only directory scopes.
    if (
      claims.sub !== admin(tenant) ||
      !scopes.length ||
      scopes.some((s) => !s.startsWith("https://www.googleapis.com/auth/admin.directory."))
    ) {
      return refuse(
        401,
        "unauthorized_client",
        "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
      );
    }
    const accessToken = `ya29.${randomBytes(32).toString("base64url")}`;
    tokens.set(accessToken, { tenant, expiresAt: Date.now() + TOKEN_SECONDS * 1000 });
    return c.json({ access_token: accessToken, expires_in: TOKEN_SECONDS, token_type: "Bearer" });
  });

  const api = new Hono<SandboxEnv>();
  api.use(
    "*",
    world.gate("google", {
      authenticate: (c) => {
        const token = /^Bearer (\S+)$/.exec(c.req.header("authorization") ?? "")?.[1];
        const held = token ? tokens.get(token) : undefined;
        if (!held || held.expiresAt <= Date.now()) {
          return c.json(
            googleError(401, "Request had invalid authentication credentials. Expected OAuth 2 access token.", "authError"),
            401,
          );
        }
        return { tenant: held.tenant, key: accounts(held.tenant).clientEmail };
      },
      errorBody: (status, message) => googleError(status, message, status === 429 ? "rateLimitExceeded" : "backendError"),
      // The Directory API answers a passed per-user quota 403 userRateLimitExceeded, with no Retry-After.
      rateLimitStatus: 403,
      retryAfter: false,
      rateLimitBody: () =>
        googleError(403, "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'.", "userRateLimitExceeded"),
    }),
  );

  const fail = (c: Context, code: number, message: string, reason = "invalid") => c.json(googleError(code, message, reason), code as 400);

  /** `customer=my_customer` (or the tenant's customer id, or its domain) is required on every list. */
  function customerOk(c: Context<SandboxEnv>): boolean {
    const state = tenantState(c.var.tenant);
    const customer = c.req.query("customer");
    const domain = c.req.query("domain");
    return customer === "my_customer" || customer === state.customerId || domain === state.domain;
  }

  /** One page by pageToken (an offset Google keeps opaque); maxResults outside 1..max is refused. */
  function page<T>(c: Context<SandboxEnv>, rows: T[], bounds: { max: number; fallback: number }, kind: string, property: string) {
    const asked = c.req.query("maxResults");
    const size = asked === undefined ? bounds.fallback : Number(asked);
    if (!Number.isInteger(size) || size < 1 || size > bounds.max) return fail(c, 400, `Invalid value for: maxResults`, "invalid");
    const token = c.req.query("pageToken");
    let start = 0;
    if (token !== undefined) {
      const decoded = Number(Buffer.from(token, "base64url").toString("utf8").replace(/^p:/, ""));
      if (!Number.isInteger(decoded) || decoded < 0) return fail(c, 400, "Invalid page token", "invalid");
      start = decoded;
    }
    const slice = rows.slice(start, start + size);
    const body: Record<string, unknown> = { kind, etag: etag(), [property]: slice };
    if (start + size < rows.length) body.nextPageToken = Buffer.from(`p:${start + size}`).toString("base64url");
    return c.json(body);
  }

  api.get("/admin/directory/v1/users", (c) => {
    if (!customerOk(c)) return fail(c, 400, "Bad Request", "badRequest");
    const state = tenantState(c.var.tenant);
    let users = state.users.all();
    if (c.req.query("orderBy") === "email") users = state.byEmail();
    const query = c.req.query("query");
    if (query) {
      // The parts Google documents that the integration uses: email:, isSuspended=.
      const email = /email:'?([^'\s]+)'?/.exec(query)?.[1]?.toLowerCase();
      const suspended = /isSuspended=(true|false)/.exec(query)?.[1];
      users = users.filter((u) => (!email || u.primaryEmail.toLowerCase() === email) && (!suspended || String(u.suspended) === suspended));
    }
    return page(c, users, USERS, "admin#directory#users", "users");
  });
  api.get("/admin/directory/v1/users/:key", (c) => {
    const user = tenantState(c.var.tenant).user(c.req.param("key"));
    return user ? c.json(user) : fail(c, 404, "Resource Not Found: userKey", "notFound");
  });
  // PUT and PATCH both change only what is sent (Google documents PUT as patch semantics for users).
  const updateUser = async (c: Context<SandboxEnv>) => {
    const state = tenantState(c.var.tenant);
    const user = state.user(c.req.param("key")!);
    if (!user) return fail(c, 404, "Resource Not Found: userKey", "notFound");
    const body = (await c.req.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!body || typeof body !== "object") return fail(c, 400, "Invalid Input", "invalid");
    const { id: _id, kind: _kind, etag: _etag, customerId: _customer, ...changes } = body;
    const name = changes.name && typeof changes.name === "object" ? { ...user.name, ...(changes.name as object) } : user.name;
    const next = { ...user, ...changes, name, etag: etag() } as GoogleUser;
    next.name.fullName = `${next.name.givenName} ${next.name.familyName}`;
    if (typeof changes.primaryEmail === "string" && state.user(changes.primaryEmail) && state.user(changes.primaryEmail)!.id !== user.id) {
      return fail(c, 409, "Entity already exists.", "duplicate");
    }
    state.users.put(next);
    return c.json(next);
  };
  api.put("/admin/directory/v1/users/:key", updateUser);
  api.patch("/admin/directory/v1/users/:key", updateUser);
  api.delete("/admin/directory/v1/users/:key", (c) => {
    const state = tenantState(c.var.tenant);
    const user = state.user(c.req.param("key"));
    if (!user) return fail(c, 404, "Resource Not Found: userKey", "notFound");
    state.users.delete(user.id);
    for (const [groupId, members] of state.members) if (members.delete(user.id)) state.setMembers(groupId, members);
    return c.body(null, 204);
  });

  api.get("/admin/directory/v1/groups", (c) => {
    if (!customerOk(c)) return fail(c, 400, "Bad Request", "badRequest");
    return page(c, tenantState(c.var.tenant).groups.all(), GROUPS, "admin#directory#groups", "groups");
  });
  api.get("/admin/directory/v1/groups/:key", (c) => {
    const group = tenantState(c.var.tenant).group(c.req.param("key"));
    return group ? c.json(group) : fail(c, 404, "Resource Not Found: groupKey", "notFound");
  });
  api.get("/admin/directory/v1/groups/:key/members", (c) => {
    const state = tenantState(c.var.tenant);
    const group = state.group(c.req.param("key"));
    if (!group) return fail(c, 404, "Resource Not Found: groupKey", "notFound");
    const members = [...state.members.get(group.id)!].flatMap((id) => {
      const user = state.users.get(id);
      return user
        ? [{ kind: "admin#directory#member", etag: etag(), id, email: user.primaryEmail, role: "MEMBER", type: "USER", status: "ACTIVE" }]
        : [];
    });
    return page(c, members, MEMBERS, "admin#directory#members", "members");
  });
  api.post("/admin/directory/v1/groups/:key/members", async (c) => {
    const state = tenantState(c.var.tenant);
    const group = state.group(c.req.param("key"));
    if (!group) return fail(c, 404, "Resource Not Found: groupKey", "notFound");
    const body = (await c.req.json().catch(() => undefined)) as { id?: string; email?: string; role?: string } | undefined;
    const user = body?.id ? state.user(body.id) : body?.email ? state.user(body.email) : undefined;
    if (!user) return fail(c, 404, "Resource Not Found: memberKey", "notFound");
    const members = state.members.get(group.id)!;
    if (members.has(user.id)) return fail(c, 409, "Member already exists.", "duplicate");
    state.setMembers(group.id, new Set([...members, user.id]));
    return c.json({
      kind: "admin#directory#member",
      etag: etag(),
      id: user.id,
      email: user.primaryEmail,
      role: body?.role ?? "MEMBER",
      type: "USER",
      status: "ACTIVE",
    });
  });
  api.delete("/admin/directory/v1/groups/:key/members/:member", (c) => {
    const state = tenantState(c.var.tenant);
    const group = state.group(c.req.param("key"));
    if (!group) return fail(c, 404, "Resource Not Found: groupKey", "notFound");
    const user = state.user(c.req.param("member"));
    const members = state.members.get(group.id)!;
    if (!user || !members.has(user.id)) return fail(c, 404, "Resource Not Found: memberKey", "notFound");
    members.delete(user.id);
    state.setMembers(group.id, members);
    return c.body(null, 204);
  });

  api.get("/admin/directory/v1/customer/:customer/orgunits", (c) => {
    const state = tenantState(c.var.tenant);
    const customer = c.req.param("customer");
    if (customer !== "my_customer" && customer !== state.customerId)
      return fail(c, 403, "Not Authorized to access this resource/api", "forbidden");
    // Unpaged: every organizational unit at once (type=all).
    return c.json({ kind: "admin#directory#org_units", etag: etag(), organizationUnits: state.orgUnits });
  });
  api.get("/admin/directory/v1/customer/:customer/orgunits/:id", (c) => {
    const state = tenantState(c.var.tenant);
    const unit = state.orgUnits.find((u) => u.orgUnitId === c.req.param("id") || u.orgUnitPath === `/${c.req.param("id")}`);
    return unit ? c.json(unit) : fail(c, 404, "Org unit not found", "notFound");
  });
  api.get("/admin/directory/v1/customers/:customer", (c) => {
    const state = tenantState(c.var.tenant);
    const customer = c.req.param("customer");
    if (customer !== "my_customer" && customer !== state.customerId)
      return fail(c, 403, "Not Authorized to access this resource/api", "forbidden");
    return c.json({
      kind: "admin#directory#customer",
      id: state.customerId,
      etag: etag(),
      customerDomain: state.domain,
      alternateEmail: `it@${state.domain}`,
      customerCreationTime: world.directory(c.var.tenant).organizations[0]?.created,
      language: "en",
    });
  });
  api.notFound((c) => fail(c, 404, "Not Found", "notFound"));
  app.route("/", api);

  return {
    app,
    tenant: tenantState,
    /** The tenant's service account and the administrator it may act for. */
    serviceAccount: (tenant: string) => ({ ...accounts(tenant), subject: admin(tenant) }),
    revokeTokens: () => tokens.clear(),
  };
}
