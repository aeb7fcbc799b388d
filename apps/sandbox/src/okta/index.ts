import { generateKeyPairSync, randomBytes } from "node:crypto";
import { type Context, Hono } from "hono";
import { jwtVerify } from "jose";
import { Collection, jsonArray } from "../collection.ts";
import { stableHex } from "../directory.ts";
import { perTenant, type SandboxEnv, type World } from "../world.ts";
import { ExpressionError, GROUP_FILTER, parseExpression, type Predicate, SEARCH, USER_FILTER } from "./filter.ts";

/*
 * Okta's management API (docs/upstreams/okta.md; docs/vendor-specs/okta/): `Authorization: SSWS
 * <token>`, cursor pages with RFC 8288 Link headers (`after` is opaque), users listed without a
 * filter leave out DEPROVISIONED ones, X-Rate-Limit-* on every answer and no Retry-After on a 429.
 */

export type OktaStatus =
  "ACTIVE" | "DEPROVISIONED" | "LOCKED_OUT" | "PASSWORD_EXPIRED" | "PROVISIONED" | "RECOVERY" | "STAGED" | "SUSPENDED";

export interface OktaUser {
  id: string;
  status: OktaStatus;
  created: string;
  activated: string | null;
  statusChanged: string | null;
  lastLogin: string | null;
  lastUpdated: string;
  passwordChanged: string | null;
  type: { id: string };
  profile: Record<string, unknown> & { login: string; email: string };
  credentials: { provider: { type: "OKTA"; name: "OKTA" } };
  _links: { self: { href: string } };
}

export interface OktaGroup {
  id: string;
  created: string;
  lastUpdated: string;
  lastMembershipUpdated: string;
  objectClass: string[];
  type: "OKTA_GROUP" | "BUILT_IN";
  profile: { name: string; description?: string };
  _links: Record<string, { href: string }>;
}

/** The largest page each list gives; a larger `limit` is answered with this many. */
const USERS_MAX = 200;
const GROUPS_MAX = 10_000;
const MEMBERS_MAX = 1000;

const oktaId = (prefix: string) => `${prefix}${randomBytes(9).toString("base64url").slice(0, 17)}`;
const stableId = (prefix: string, seed: string, label: string) => `${prefix}${stableHex(seed, label, 17)}`;
const STATUS_AFTER: Record<string, OktaStatus> = { active: "ACTIVE", inactive: "SUSPENDED", staged: "STAGED" };

/** Okta's error body: a code, a summary, and causes for validation failures. */
export function oktaError(status: number, summary: string, causes: string[] = []) {
  const code =
    {
      400: "E0000001",
      401: "E0000011",
      403: "E0000006",
      404: "E0000007",
      405: "E0000022",
      409: "E0000001",
      429: "E0000047",
      500: "E0000009",
      502: "E0000009",
      503: "E0000010",
    }[status] ?? "E0000009";
  return {
    errorCode: code,
    errorSummary: summary,
    errorLink: code,
    errorId: `oae${randomBytes(11).toString("base64url")}`,
    errorCauses: causes.map((errorSummary) => ({ errorSummary })),
  };
}

export class OktaTenant {
  readonly users = new Collection<OktaUser>((u) => u.id);
  readonly groups = new Collection<OktaGroup>((g) => g.id);
  /** Members of each group, in the order they were added. */
  readonly members = new Map<string, Set<string>>();
  readonly org: Record<string, unknown> & { id: string; subdomain: string };
  readonly everyoneId: string;
  /** Each record's place in its list, kept after a delete so an `after` cursor stays valid. */
  private readonly ordinals = new Map<string, number>();
  private nextOrdinal = 0;

  constructor(world: World, tenant: string) {
    const directory = world.directory(tenant);
    this.org = {
      id: stableId("00o", world.seed, `okta:${tenant}:org`),
      companyName: directory.company,
      subdomain: tenant,
      website: `https://www.${directory.domain}`,
      status: "ACTIVE",
      created: directory.organizations[0]?.created ?? new Date(0).toISOString(),
      lastUpdated: directory.organizations[0]?.created ?? new Date(0).toISOString(),
      country: "United States",
      city: "Austin",
      state: "TX",
      postalCode: "78701",
      address1: "100 Congress Ave",
      phoneNumber: "+1-555-0100",
      endUserSupportHelpURL: `https://help.${directory.domain}`,
      supportPhoneNumber: "+1-555-0199",
      _links: {},
    };
    const ids = directory.people.map((p) => stableId("00u", world.seed, `okta:${tenant}:user:${p.index}`));
    for (const p of directory.people) {
      // Some of the inactive are deactivated (DEPROVISIONED), the rest suspended; a few active
      // people are locked out or have an expired password, which are still active accounts.
      let status: OktaStatus = STATUS_AFTER[p.state]!;
      if (p.state === "inactive" && p.index % 2 === 0) status = "DEPROVISIONED";
      if (p.state === "active" && p.index % 29 === 7) status = "LOCKED_OUT";
      if (p.state === "active" && p.index % 31 === 11) status = "PASSWORD_EXPIRED";
      const id = ids[p.index]!;
      this.put({
        id,
        status,
        created: p.created,
        activated: status === "STAGED" ? null : p.created,
        statusChanged: p.updated,
        lastLogin: status === "ACTIVE" ? p.updated : null,
        lastUpdated: p.updated,
        passwordChanged: status === "STAGED" ? null : p.created,
        type: { id: stableId("oty", world.seed, "okta:usertype") },
        profile: {
          login: p.email,
          email: p.email,
          secondEmail: p.personalEmail,
          firstName: p.firstName,
          ...(p.middleName && { middleName: p.middleName }),
          lastName: p.lastName,
          ...(p.nickName && { nickName: p.nickName }),
          displayName: `${p.firstName} ${p.lastName}`,
          title: p.title,
          department: p.department,
          organization: directory.company,
          costCenter: p.costCenter,
          employeeNumber: p.employeeNumber,
          userType: p.employeeType,
          ...(p.manager !== null && { managerId: ids[p.manager] }),
          primaryPhone: p.workPhone,
          mobilePhone: p.mobilePhone,
          streetAddress: p.address.street,
          city: p.address.city,
          state: p.address.region,
          zipCode: p.address.postalCode,
          countryCode: p.address.country,
        },
        credentials: { provider: { type: "OKTA", name: "OKTA" } },
        _links: { self: { href: `/api/v1/users/${id}` } },
      });
    }
    // Every org has the built-in Everyone group: all users, and neither it nor its members can be changed.
    this.everyoneId = stableId("00g", world.seed, `okta:${tenant}:everyone`);
    const created = directory.organizations[0]?.created ?? new Date(0).toISOString();
    this.putGroup(this.group(this.everyoneId, "Everyone", "All users in your organization", created, "BUILT_IN"));
    this.members.set(this.everyoneId, new Set(ids));
    for (const [t, team] of directory.teams.entries()) {
      const id = stableId("00g", world.seed, `okta:${tenant}:group:${t}`);
      this.putGroup(this.group(id, team.name, team.description, created, "OKTA_GROUP"));
      this.members.set(id, new Set(team.members.map((i) => ids[i]!)));
    }
  }

  group(id: string, name: string, description: string | undefined, at: string, type: OktaGroup["type"]): OktaGroup {
    return {
      id,
      created: at,
      lastUpdated: at,
      lastMembershipUpdated: at,
      objectClass: ["okta:user_group"],
      type,
      profile: description === undefined ? { name } : { name, description },
      _links: { users: { href: `/api/v1/groups/${id}/users` }, apps: { href: `/api/v1/groups/${id}/apps` } },
    };
  }

  put(user: OktaUser): OktaUser {
    if (!this.ordinals.has(user.id)) this.ordinals.set(user.id, this.nextOrdinal++);
    return this.users.put(user);
  }

  putGroup(group: OktaGroup): OktaGroup {
    if (!this.ordinals.has(group.id)) this.ordinals.set(group.id, this.nextOrdinal++);
    return this.groups.put(group);
  }

  ordinal(id: string): number | undefined {
    return this.ordinals.get(id);
  }

  /** A user by id, or by login as Okta also allows. */
  find(idOrLogin: string): OktaUser | undefined {
    return this.users.get(idOrLogin) ?? this.users.all().find((u) => u.profile.login.toLowerCase() === idOrLogin.toLowerCase());
  }

  removeUser(id: string): void {
    this.users.delete(id);
    for (const members of this.members.values()) members.delete(id);
  }
}

/**
 * Okta's OAuth 2.0 for service apps: each tenant has one API service app (client id `0oa…`)
 * that authenticates with a JWT signed by its private key (`private_key_jwt`) at the org's
 * token endpoint, and is granted the `okta.*` scopes it asks for. Its tokens are sent as
 * `Authorization: Bearer …` and expire after `TOKEN_SECONDS`.
 */
const TOKEN_SECONDS = 3600;
export interface ServiceApp {
  clientId: string;
  /** PKCS #8 PEM: what the customer pastes into the connection. */
  privateKey: string;
  publicKey: ReturnType<typeof generateKeyPairSync>["publicKey"];
}

export function oktaRoutes(world: World) {
  const tenantState = perTenant((name) => new OktaTenant(world, name));
  const app = new Hono<SandboxEnv>();
  const apps = perTenant((tenant): ServiceApp => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    return {
      clientId: stableId("0oa", world.seed, `okta:${tenant}:service-app`),
      privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      publicKey,
    };
  });
  const tokens = new Map<string, { tenant: string; expiresAt: number }>();
  /** Tokens issued from now on last this long (tests shorten it to see a renewal). */
  let tokenSeconds = TOKEN_SECONDS;

  // The token endpoint authenticates by the client assertion, not by the API's token; it is in the request log too.
  app.use("/oauth2/v1/token", world.logged("okta"));
  app.post("/oauth2/v1/token", async (c) => {
    const form = new URLSearchParams(await c.req.text());
    const oauthError = (status: 400 | 401, error: string, description: string) => c.json({ error, error_description: description }, status);
    if (form.get("grant_type") !== "client_credentials")
      return oauthError(400, "unsupported_grant_type", "The authorization grant type is not supported by the authorization server.");
    if (form.get("client_assertion_type") !== "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || !form.get("client_assertion")) {
      return oauthError(401, "invalid_client", "Client authentication failed. Either the client or the client credentials are invalid.");
    }
    const assertion = form.get("client_assertion")!;
    const claimed = (() => {
      try {
        return JSON.parse(Buffer.from(assertion.split(".")[1] ?? "", "base64url").toString("utf8")) as { iss?: string };
      } catch {
        return {};
      }
    })();
    const tenant = world.tenants.find((t) => apps(t.name).clientId === claimed.iss)?.name;
    if (!tenant) return oauthError(401, "invalid_client", "The client_assertion is invalid: no client with that id.");
    try {
      await jwtVerify(assertion, apps(tenant).publicKey, {
        audience: new URL(c.req.url).href,
        issuer: apps(tenant).clientId,
        subject: apps(tenant).clientId,
      });
    } catch (error) {
      return oauthError(401, "invalid_client", `The client_assertion signature or claims are invalid: ${(error as Error).message}`);
    }
    const scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
    if (!scopes.length || scopes.some((s) => !s.startsWith("okta.")))
      return oauthError(400, "invalid_scope", "One or more scopes are not configured for the authorization server resource.");
    const accessToken = `eyOkta${randomBytes(24).toString("base64url")}`;
    tokens.set(accessToken, { tenant, expiresAt: Date.now() + tokenSeconds * 1000 });
    return c.json({ token_type: "Bearer", expires_in: tokenSeconds, access_token: accessToken, scope: scopes.join(" ") });
  });

  app.use(
    "*",
    world.gate("okta", {
      authenticate: (c) => {
        const header = c.req.header("authorization") ?? "";
        const bearer = /^Bearer (\S+)$/.exec(header)?.[1];
        if (bearer) {
          // An access token of the service app, until it expires.
          const held = tokens.get(bearer);
          return held && held.expiresAt > Date.now()
            ? { tenant: held.tenant, key: apps(held.tenant).clientId }
            : c.json(oktaError(401, "Invalid token provided"), 401);
        }
        const token = /^SSWS (\S+)$/.exec(header)?.[1] ?? "";
        const tenant = token ? world.tenantForKey("okta", token) : undefined;
        return tenant ? { tenant, key: token } : c.json(oktaError(401, "Invalid token provided"), 401);
      },
      errorBody: (status, message) => oktaError(status, message),
      // Okta's reset is the Unix time the window ends, and a 429 carries no Retry-After.
      rateLimitHeaders: (limit, remaining, resetSeconds) => ({
        "x-rate-limit-limit": String(limit),
        "x-rate-limit-remaining": String(remaining),
        "x-rate-limit-reset": String(Math.floor(Date.now() / 1000) + resetSeconds),
      }),
      rateLimitBody: () => oktaError(429, "API call exceeded rate limit due to too many requests."),
      retryAfter: false,
    }),
  );

  const fail = (c: Context, status: number, summary: string, causes: string[] = []) =>
    c.json(oktaError(status, summary, causes), status as 400);
  const notFound = (c: Context, id: string, kind: string) => fail(c, 404, `Not found: Resource not found: ${id} (${kind})`);

  /**
   * One page of a cursor list: `limit` (the default when absent, capped at `max`), `after` (the
   * id of the last record of the page before), and a Link header with `self` and, when more
   * remain, `next`, each carrying the other query parameters as they were sent.
   */
  function page<T extends { id: string }>(
    c: Context<SandboxEnv>,
    rows: T[],
    max: number,
    fallback: number,
    keep: (row: T) => boolean = () => true,
  ) {
    const state = tenantState(c.var.tenant);
    const url = new URL(c.req.url);
    const asked = url.searchParams.get("limit");
    const limit = asked === null ? fallback : Number(asked);
    if (!Number.isInteger(limit) || limit < 1) return fail(c, 400, "Api validation failed: limit", ["limit: must be a positive integer"]);
    const size = Math.min(limit, max);
    const after = url.searchParams.get("after");
    let start = 0;
    if (after !== null) {
      const from = state.ordinal(after);
      if (from === undefined) return fail(c, 400, "Api validation failed: after", ["after: the cursor is not valid"]);
      // Rows are in ordinal order: the first past the cursor, by halving.
      let [low, high] = [0, rows.length];
      while (low < high) {
        const mid = (low + high) >>> 1;
        if ((state.ordinal(rows[mid]!.id) ?? 0) > from) high = mid;
        else low = mid + 1;
      }
      start = low;
    }
    // Only as far as the page and one more row that `keep` takes: a 100,000-user list is not filtered whole per page.
    const slice: T[] = [];
    let i = start;
    for (; i < rows.length && slice.length < size; i++) if (keep(rows[i]!)) slice.push(rows[i]!);
    let more = false;
    for (; i < rows.length && !more; i++) more = keep(rows[i]!);
    const self = new URL(url);
    const links = [`<${self.href}>; rel="self"`];
    if (more && slice.length) {
      const next = new URL(url);
      next.searchParams.set("after", slice.at(-1)!.id);
      next.searchParams.set("limit", String(size));
      links.push(`<${next.href}>; rel="next"`);
    }
    return c.body(jsonArray(slice), 200, { "content-type": "application/json", link: links.join(", ") });
  }

  function expression(c: Context, rules: typeof USER_FILTER): Predicate | Response | undefined {
    const filter = c.req.query("filter");
    const search = c.req.query("search");
    try {
      if (search !== undefined) return parseExpression(search, SEARCH);
      if (filter !== undefined) return parseExpression(filter, rules);
    } catch (error) {
      if (error instanceof ExpressionError) return fail(c, 400, error.message);
      throw error;
    }
    return undefined;
  }

  // ---- users ---------------------------------------------------------------------------------
  app.get("/api/v1/users", (c) => {
    const state = tenantState(c.var.tenant);
    const where = expression(c, USER_FILTER);
    if (where instanceof Response) return where;
    const q = c.req.query("q")?.toLowerCase();
    let users = state.users.all();
    // Without a filter or search, deactivated users are left out.
    const keep = where ? (u: OktaUser) => where(u as unknown as Record<string, unknown>) : (u: OktaUser) => u.status !== "DEPROVISIONED";
    if (q) {
      users = users.filter(keep);
      users = users.filter((u) =>
        ["firstName", "lastName", "email"].some((f) =>
          String(u.profile[f] ?? "")
            .toLowerCase()
            .startsWith(q),
        ),
      );
      // `q` does not page: `limit` (default 10) is all it gives.
      const limit = Math.min(Number(c.req.query("limit") ?? 10) || 10, USERS_MAX);
      return c.body(jsonArray(users.slice(0, limit)), 200, { "content-type": "application/json" });
    }
    return page(c, users, USERS_MAX, USERS_MAX, keep);
  });

  app.get("/api/v1/users/:id", (c) => {
    const user = tenantState(c.var.tenant).find(c.req.param("id"));
    return user ? c.json(user) : notFound(c, c.req.param("id"), "User");
  });

  /** A profile's problems, as Okta's errorCauses. */
  function profileProblems(state: OktaTenant, profile: Record<string, unknown>, self?: string): string[] {
    const causes: string[] = [];
    for (const field of ["login", "email", "firstName", "lastName"]) {
      if (typeof profile[field] !== "string" || !profile[field]) causes.push(`${field}: The field cannot be left blank`);
    }
    if (typeof profile.email === "string" && profile.email && !/^[^@\s]+@[^@\s]+$/.test(profile.email)) {
      causes.push("email: Does not match required pattern");
    }
    if (typeof profile.login === "string" && profile.login) {
      const holder = state.find(profile.login);
      if (holder && holder.id !== self) causes.push("login: An object with this field already exists in the current organization");
    }
    return causes;
  }

  app.post("/api/v1/users", async (c) => {
    const state = tenantState(c.var.tenant);
    const body = (await c.req.json().catch(() => undefined)) as { profile?: Record<string, unknown>; groupIds?: unknown } | undefined;
    if (!body || typeof body.profile !== "object" || !body.profile)
      return fail(c, 400, "Api validation failed: profile", ["profile: The field cannot be left blank"]);
    const profile = Object.fromEntries(
      Object.entries(body.profile).filter(([, v]) => v !== null && v !== undefined),
    ) as OktaUser["profile"];
    const causes = profileProblems(state, profile);
    if (causes.length) return fail(c, 400, `Api validation failed: ${causes[0]!.split(":")[0]}`, causes);
    const groupIds = Array.isArray(body.groupIds) ? body.groupIds.map(String) : [];
    for (const groupId of groupIds) if (!state.groups.get(groupId)) return notFound(c, groupId, "UserGroup");
    // activate=true (the default) without a password leaves the user to finish activation: PROVISIONED.
    const activate = c.req.query("activate") !== "false";
    const now = new Date().toISOString();
    const id = oktaId("00u");
    const user = state.put({
      id,
      status: activate ? "PROVISIONED" : "STAGED",
      created: now,
      activated: activate ? now : null,
      statusChanged: activate ? now : null,
      lastLogin: null,
      lastUpdated: now,
      passwordChanged: null,
      type: { id: state.users.all()[0]?.type.id ?? oktaId("oty") },
      profile,
      credentials: { provider: { type: "OKTA", name: "OKTA" } },
      _links: { self: { href: `/api/v1/users/${id}` } },
    });
    for (const groupId of [state.everyoneId, ...groupIds]) state.members.get(groupId)?.add(id);
    return c.json(user, 200);
  });

  /** POST updates the profile attributes given; PUT replaces the whole profile. */
  async function update(c: Context<SandboxEnv>, replace: boolean) {
    const state = tenantState(c.var.tenant);
    const user = state.find(c.req.param("id")!);
    if (!user) return notFound(c, c.req.param("id")!, "User");
    const body = (await c.req.json().catch(() => undefined)) as { profile?: Record<string, unknown> } | undefined;
    if (!body || typeof body !== "object" || (body.profile !== undefined && (typeof body.profile !== "object" || !body.profile))) {
      return fail(c, 400, "Api validation failed: profile", ["profile: must be an object"]);
    }
    const merged = replace ? { ...body.profile } : { ...user.profile, ...body.profile };
    const profile = Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== null && v !== undefined)) as OktaUser["profile"];
    const causes = profileProblems(state, profile, user.id);
    if (causes.length) return fail(c, 400, `Api validation failed: ${causes[0]!.split(":")[0]}`, causes);
    return c.json(state.put({ ...user, profile, lastUpdated: new Date().toISOString() }));
  }
  app.post("/api/v1/users/:id", (c) => update(c, false));
  app.put("/api/v1/users/:id", (c) => update(c, true));

  app.post("/api/v1/users/:id/lifecycle/deactivate", (c) => {
    const state = tenantState(c.var.tenant);
    const user = state.find(c.req.param("id"));
    if (!user) return notFound(c, c.req.param("id"), "User");
    if (user.status === "DEPROVISIONED") return fail(c, 400, "Api validation failed: user", ["status: The user is already deactivated"]);
    const now = new Date().toISOString();
    state.put({ ...user, status: "DEPROVISIONED", statusChanged: now, lastUpdated: now });
    return c.json({});
  });

  // The first DELETE of a user who is not deactivated deactivates them; a second deletes them.
  app.delete("/api/v1/users/:id", (c) => {
    const state = tenantState(c.var.tenant);
    const user = state.find(c.req.param("id"));
    if (!user) return notFound(c, c.req.param("id"), "User");
    if (user.status !== "DEPROVISIONED") {
      const now = new Date().toISOString();
      state.put({ ...user, status: "DEPROVISIONED", statusChanged: now, lastUpdated: now });
    } else state.removeUser(user.id);
    return c.body(null, 204);
  });

  // ---- groups --------------------------------------------------------------------------------
  app.get("/api/v1/groups", (c) => {
    const state = tenantState(c.var.tenant);
    const where = expression(c, GROUP_FILTER);
    if (where instanceof Response) return where;
    const q = c.req.query("q")?.toLowerCase();
    let groups = state.groups.all();
    if (where) groups = groups.filter((g) => where(g as unknown as Record<string, unknown>));
    if (q) groups = groups.filter((g) => g.profile.name.toLowerCase().startsWith(q));
    return page(c, groups, GROUPS_MAX, GROUPS_MAX);
  });

  app.get("/api/v1/groups/:id", (c) => {
    const group = tenantState(c.var.tenant).groups.get(c.req.param("id"));
    return group ? c.json(group) : notFound(c, c.req.param("id"), "UserGroup");
  });

  function groupProfile(body: unknown): OktaGroup["profile"] | string[] {
    const profile = (body as { profile?: Record<string, unknown> } | undefined)?.profile;
    if (!profile || typeof profile !== "object") return ["profile: The field cannot be left blank"];
    if (typeof profile.name !== "string" || !profile.name) return ["name: The field cannot be left blank"];
    return typeof profile.description === "string" ? { name: profile.name, description: profile.description } : { name: profile.name };
  }

  app.post("/api/v1/groups", async (c) => {
    const state = tenantState(c.var.tenant);
    const profile = groupProfile(await c.req.json().catch(() => undefined));
    if (Array.isArray(profile)) return fail(c, 400, "Api validation failed: profile", profile);
    if (state.groups.all().some((g) => g.profile.name.toLowerCase() === profile.name.toLowerCase())) {
      return fail(c, 400, "Api validation failed: name", ["name: An object with this field already exists in the current organization"]);
    }
    const group = state.putGroup(state.group(oktaId("00g"), profile.name, profile.description, new Date().toISOString(), "OKTA_GROUP"));
    state.members.set(group.id, new Set());
    return c.json(group, 200);
  });

  app.put("/api/v1/groups/:id", async (c) => {
    const state = tenantState(c.var.tenant);
    const group = state.groups.get(c.req.param("id"));
    if (!group) return notFound(c, c.req.param("id"), "UserGroup");
    if (group.type !== "OKTA_GROUP") return fail(c, 403, "You do not have permission to perform the requested action");
    const profile = groupProfile(await c.req.json().catch(() => undefined));
    if (Array.isArray(profile)) return fail(c, 400, "Api validation failed: profile", profile);
    if (state.groups.all().some((g) => g.id !== group.id && g.profile.name.toLowerCase() === profile.name.toLowerCase())) {
      return fail(c, 400, "Api validation failed: name", ["name: An object with this field already exists in the current organization"]);
    }
    return c.json(state.putGroup({ ...group, profile, lastUpdated: new Date().toISOString() }));
  });

  app.delete("/api/v1/groups/:id", (c) => {
    const state = tenantState(c.var.tenant);
    const group = state.groups.get(c.req.param("id"));
    if (!group) return notFound(c, c.req.param("id"), "UserGroup");
    if (group.type !== "OKTA_GROUP") return fail(c, 403, "You do not have permission to perform the requested action");
    state.groups.delete(group.id);
    state.members.delete(group.id);
    return c.body(null, 204);
  });

  app.get("/api/v1/groups/:id/users", (c) => {
    const state = tenantState(c.var.tenant);
    const members = state.members.get(c.req.param("id"));
    if (!members) return notFound(c, c.req.param("id"), "UserGroup");
    const users = [...members].map((id) => state.users.get(id)).filter((u): u is OktaUser => u !== undefined);
    users.sort((a, b) => state.ordinal(a.id)! - state.ordinal(b.id)!);
    return page(c, users, MEMBERS_MAX, MEMBERS_MAX);
  });

  function membership(c: Context<SandboxEnv>, add: boolean) {
    const state = tenantState(c.var.tenant);
    const group = state.groups.get(c.req.param("groupId")!);
    if (!group) return notFound(c, c.req.param("groupId")!, "UserGroup");
    const user = state.users.get(c.req.param("userId")!);
    if (!user) return notFound(c, c.req.param("userId")!, "User");
    if (group.type !== "OKTA_GROUP") return fail(c, 403, "You do not have permission to perform the requested action");
    const members = state.members.get(group.id)!;
    // Both are idempotent: adding a member or removing a non-member answers 204 too.
    if (add) members.add(user.id);
    else members.delete(user.id);
    state.putGroup({ ...group, lastMembershipUpdated: new Date().toISOString() });
    return c.body(null, 204);
  }
  app.put("/api/v1/groups/:groupId/users/:userId", (c) => membership(c, true));
  app.delete("/api/v1/groups/:groupId/users/:userId", (c) => membership(c, false));

  // ---- org -----------------------------------------------------------------------------------
  app.get("/api/v1/org", (c) => c.json(tenantState(c.var.tenant).org));

  app.notFound((c) => fail(c, 404, `Not found: Resource not found: ${c.req.path} (Path)`));
  return {
    app,
    tenant: tenantState,
    /** The tenant's API service app, for OAuth 2.0 connections. */
    serviceApp: apps,
    /** Ends every access token issued so far, as a revocation or key rotation at Okta would. */
    revokeTokens: () => tokens.clear(),
    /** Gives the tenant's service app a new key pair, as an administrator replacing its key would: the old private key no longer signs for it. */
    rotateKey: (tenant: string) => {
      const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      Object.assign(apps(tenant), { privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), publicKey });
    },
    setTokenSeconds: (seconds: number) => {
      tokenSeconds = seconds;
    },
  };
}
