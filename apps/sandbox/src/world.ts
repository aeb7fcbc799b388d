import type { HttpBindings } from "@hono/node-server";
import type { Context, MiddlewareHandler } from "hono";
import { createDirectory, type Directory, stableHex } from "./directory.ts";
import { damaged, enact, FaultBook, type Vendor } from "./faults.ts";
import { RateLimiter } from "./rate-limit.ts";

export interface TenantSpec {
  name: string;
  users: number;
}

export interface SandboxOptions {
  /** Same seed → same directories, ids and keys. */
  seed?: string;
  tenants?: TenantSpec[];
  /** Requests per minute per API key; Postman's published 300 by default, the others unlimited. */
  rateLimits?: Partial<Record<Vendor, number>>;
}

export interface RequestRecord {
  vendor: Vendor;
  tenant: string | null;
  method: string;
  path: string;
  status: number;
}

/** One state object per tenant, built on first use (a 100,000-user tenant costs nothing until asked for). */
export function perTenant<T>(make: (tenant: string) => T): (tenant: string) => T {
  const states = new Map<string, T>();
  return (tenant) => {
    let state = states.get(tenant);
    if (state === undefined) {
      state = make(tenant);
      states.set(tenant, state);
    }
    return state;
  };
}

export type SandboxEnv = { Bindings: HttpBindings; Variables: { tenant: string } };

/** State shared by the simulators: tenants, keys, seeded directories, faults, limits, a request log. */
export class World {
  readonly seed: string;
  readonly tenants: TenantSpec[];
  readonly faults = new FaultBook();
  readonly requests: RequestRecord[] = [];
  private readonly limiters: Partial<Record<Vendor, RateLimiter>> = {};
  private readonly directories = new Map<string, Directory>();

  constructor(options: SandboxOptions = {}) {
    this.seed = options.seed ?? "unifold";
    this.tenants = options.tenants ?? [
      { name: "acme", users: 60 },
      { name: "globex", users: 25 },
    ];
    const limits = { postman: 300, ...options.rateLimits };
    for (const [vendor, perMinute] of Object.entries(limits)) {
      if (perMinute) this.limiters[vendor as Vendor] = new RateLimiter(perMinute);
    }
  }

  directory(tenant: string): Directory {
    let directory = this.directories.get(tenant);
    if (!directory) {
      const spec = this.tenants.find((t) => t.name === tenant);
      if (!spec) throw new Error(`no tenant ${tenant}`);
      directory = createDirectory({ seed: this.seed, tenant, users: spec.users });
      this.directories.set(tenant, directory);
    }
    return directory;
  }

  /** Each tenant's API key for a vendor; deterministic from the seed. */
  keyFor(vendor: Vendor | "jumpcloud-msp", tenant: string): string {
    const hex = stableHex(this.seed, `key:${vendor}:${tenant}`, 40);
    if (vendor === "postman") return `PMAK-${hex.slice(0, 24)}-${hex.slice(24, 40)}`;
    // Okta API tokens: 42 characters starting 00.
    if (vendor === "okta") return `00${hex}`;
    return hex;
  }

  tenantForKey(vendor: Vendor, key: string): string | undefined {
    return this.tenants.find((t) => this.keyFor(vendor, t.name) === key)?.name;
  }

  setRateLimit(vendor: Vendor, perMinute: number | null): void {
    if (perMinute) this.limiters[vendor] = new RateLimiter(perMinute);
    else delete this.limiters[vendor];
  }

  /**
   * Logs a vendor's requests that its gate does not see (a token endpoint, which authenticates
   * by what the request carries, not by the API's key).
   */
  logged(vendor: Vendor): MiddlewareHandler<SandboxEnv> {
    return async (c, next) => {
      const record: RequestRecord = { vendor, tenant: null, method: c.req.method, path: c.req.path, status: 0 };
      this.requests.push(record);
      await next();
      record.status = c.res.status;
    };
  }

  /**
   * The middleware in front of a vendor's routes: log, authenticate (the vendor's rule), rate
   * limit per key, then draw faults for the tenant.
   */
  gate(
    vendor: Vendor,
    options: {
      authenticate: (c: Context<SandboxEnv>) => { tenant: string; key: string } | Response;
      errorBody: (status: number, message: string) => unknown;
      rateLimitHeaders?: (limit: number, remaining: number, resetSeconds: number) => Record<string, string>;
      rateLimitBody?: (resetSeconds: number) => unknown;
      /** Whether a 429 carries Retry-After (Okta's does not: its X-Rate-Limit-Reset says when). */
      retryAfter?: boolean;
      /** The status a passed limit is answered with: 429 unless the vendor says otherwise (Google's quota: 403). */
      rateLimitStatus?: number;
    },
  ): MiddlewareHandler<SandboxEnv> {
    return async (c, next) => {
      const record: RequestRecord = { vendor, tenant: null, method: c.req.method, path: c.req.path, status: 0 };
      this.requests.push(record);
      if (this.requests.length > 50_000) this.requests.splice(0, 10_000);
      const auth = options.authenticate(c);
      if (auth instanceof Response) {
        record.status = auth.status;
        return auth;
      }
      record.tenant = auth.tenant;
      c.set("tenant", auth.tenant);

      const limiter = this.limiters[vendor];
      if (limiter) {
        const state = limiter.take(auth.key);
        const headers = options.rateLimitHeaders?.(state.limit, state.remaining, state.resetSeconds) ?? {};
        for (const [name, value] of Object.entries(headers)) c.header(name, value);
        if (!state.allowed) {
          const status = (options.rateLimitStatus ?? 429) as 429;
          record.status = status;
          const body = options.rateLimitBody?.(state.resetSeconds) ?? options.errorBody(status, "Too many requests");
          const retryAfter: Record<string, string> = options.retryAfter === false ? {} : { "retry-after": String(state.resetSeconds) };
          return c.json(body, status, { ...retryAfter, ...headers });
        }
      }

      const fault = this.faults.draw(vendor, auth.tenant, c.req.method, c.req.path);
      if (fault) {
        const response = await enact(fault, c, (status) => options.errorBody(status, `injected fault: ${status}`));
        if (response) {
          record.status = response.status || 0;
          return response;
        }
      }
      if (fault?.kind === "ignore_paging") {
        // The vendor never reads the position: every page starts at the first record.
        const url = new URL(c.req.url);
        for (const name of ["startIndex", "skip"]) url.searchParams.delete(name);
        c.req.raw = new Request(url, c.req.raw);
      }
      await next();
      record.status = c.res.status;
      if (fault?.kind === "lying_total" && c.res.headers.get("content-type")?.includes("json")) {
        const body = (await c.res.json()) as Record<string, unknown>;
        for (const name of ["totalResults", "totalCount"]) if (name in body) body[name] = fault.total ?? 1000;
        const headers = new Headers(c.res.headers);
        headers.delete("content-length");
        c.res = new Response(JSON.stringify(body), { status: c.res.status, headers });
      }
      const damage = fault && ["invalid_escape", "invalid_utf8", "oversize"].includes(fault.kind);
      if (damage && c.res.headers.get("content-type")?.includes("json")) {
        const bytes = damaged(fault, await c.res.text());
        if (bytes) {
          const headers = new Headers(c.res.headers);
          headers.delete("content-length");
          c.res = new Response(bytes, { status: c.res.status, headers });
        }
      }
      if (fault?.kind === "lost") {
        record.status = 0;
        c.env.incoming.socket.destroy();
      }
    };
  }
}
