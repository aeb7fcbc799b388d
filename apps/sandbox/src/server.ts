import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type HttpBindings, serve } from "@hono/node-server";
import { Hono } from "hono";
import {
  type Applied,
  type ChangeSpec,
  changeEntra,
  changeJostle,
  changeGoogle,
  changeJumpCloud,
  changeOkta,
  changePostman,
} from "./changes.ts";
import type { FaultSpec, Vendor } from "./faults.ts";
import { jostleRoutes } from "./jostle/index.ts";
import { jumpcloudRoutes } from "./jumpcloud/index.ts";
import { entraRoutes } from "./entra/index.ts";
import { googleRoutes } from "./google/index.ts";
import { oktaRoutes } from "./okta/index.ts";
import { postmanRoutes } from "./postman/index.ts";
import { type SandboxOptions, World } from "./world.ts";

export type { Applied, ChangeSpec } from "./changes.ts";
export type { FaultSpec, Vendor } from "./faults.ts";
export type { SandboxOptions, TenantSpec } from "./world.ts";

/** Where each simulator is mounted, mirroring the vendors' own base paths. */
export const BASE_PATHS = {
  jostle: "/jostle/scim2",
  postman: "/postman/scim/v2",
  jumpcloud: "/jumpcloud/api",
  okta: "/okta",
  google: "/google",
  // Graph's host and Entra's token endpoint side by side: API paths start /v1.0, tokens /{tenant}/oauth2/v2.0/token.
  entra: "/entra",
} as const;

export function createSandbox(options: SandboxOptions = {}) {
  const world = new World(options);
  // The one list of simulators: each is mounted at its vendor's base path.
  const simulators = {
    jostle: jostleRoutes(world),
    postman: postmanRoutes(world),
    jumpcloud: jumpcloudRoutes(world),
    okta: oktaRoutes(world),
    google: googleRoutes(world),
    entra: entraRoutes(world),
  };
  const { jostle, postman, jumpcloud, okta, google, entra } = simulators;
  const vendors = Object.keys(simulators) as Vendor[];

  const app = new Hono<{ Bindings: HttpBindings }>();
  for (const vendor of vendors) app.route(BASE_PATHS[vendor], simulators[vendor].app);

  // The control API: never on a vendor path, so it cannot be mistaken for vendor behaviour.
  const control = new Hono();
  control.get("/", (c) => c.json(info()));
  control.post("/faults", async (c) => c.json({ id: world.faults.add((await c.req.json()) as FaultSpec) }, 201));
  control.get("/faults", (c) => c.json(world.faults.list()));
  control.delete("/faults", (c) => {
    world.faults.clear();
    return c.body(null, 204);
  });
  control.get("/requests", (c) => {
    const { vendor, tenant } = c.req.query();
    return c.json(world.requests.filter((r) => (!vendor || r.vendor === vendor) && (!tenant || r.tenant === tenant)));
  });
  control.delete("/requests", (c) => {
    world.requests.length = 0;
    return c.body(null, 204);
  });
  control.put("/rate-limits/:vendor", async (c) => {
    const body = (await c.req.json()) as { per_minute: number | null };
    world.setRateLimit(c.req.param("vendor") as Vendor, body.per_minute);
    return c.body(null, 204);
  });
  // A batch of adds, updates, deactivations and deletes in a tenant's users, as time passes upstream.
  control.post("/changes", async (c) => {
    const body = (await c.req.json()) as ChangeSpec & { vendor: Vendor; tenant: string };
    return c.json(changeUsers(body.vendor, body.tenant, body));
  });
  app.route("/_sandbox", control);

  function info(origin = "") {
    return {
      seed: world.seed,
      vendors: {
        ...Object.fromEntries(vendors.map((vendor) => [vendor, { base_url: `${origin}${BASE_PATHS[vendor]}`, keys: keysOf(vendor) }])),
        // Google Workspace has no API keys: a service account signs for a delegated administrator.
        google: {
          base_url: `${origin}${BASE_PATHS.google}`,
          token_url: `${origin}${BASE_PATHS.google}/token`,
          service_accounts: Object.fromEntries(
            world.tenants.map((t) => {
              const account = google.serviceAccount(t.name);
              return [t.name, { client_email: account.clientEmail, subject: account.subject, private_key: account.privateKey }];
            }),
          ),
        },
        // Entra ID has no API keys: an app registration's client id and secret, per directory (tenant) id.
        entra: {
          base_url: `${origin}${BASE_PATHS.entra}`,
          apps: Object.fromEntries(
            world.tenants.map((t) => {
              const app = entra.appOf(t.name);
              return [
                t.name,
                {
                  tenant_id: app.tenantId,
                  client_id: app.clientId,
                  client_secret: app.clientSecret,
                  token_url: `${origin}${BASE_PATHS.entra}/${app.tenantId}/oauth2/v2.0/token`,
                },
              ];
            }),
          ),
        },
        // JumpCloud's multi-tenant (MSP) administrators hold one key for many organizations.
        jumpcloud: {
          base_url: `${origin}${BASE_PATHS.jumpcloud}`,
          keys: keysOf("jumpcloud"),
          msp: {
            key: jumpcloud.mspKey,
            provider_id: jumpcloud.providerId,
            org_ids: Object.fromEntries(world.tenants.map((t) => [t.name, jumpcloud.tenant(t.name).organization._id])),
          },
        },
      },
    };
  }
  /** Applies a batch of changes to one vendor's copy of a tenant's users; answers which ids changed. */
  function changeUsers(vendor: Vendor, tenant: string, spec: ChangeSpec): Applied {
    if (vendor === "jumpcloud") return changeJumpCloud(jumpcloud.tenant(tenant), spec);
    if (vendor === "postman") return changePostman(postman.tenant(tenant), spec);
    if (vendor === "okta") return changeOkta(okta.tenant(tenant), spec);
    if (vendor === "google") return changeGoogle(google.tenant(tenant), spec);
    if (vendor === "entra") return changeEntra(entra.tenant(tenant), spec);
    return changeJostle(jostle.tenant(tenant), spec);
  }
  const keysOf = (vendor: Vendor) => Object.fromEntries(world.tenants.map((t) => [t.name, world.keyFor(vendor, t.name)]));

  return { app, world, jostle, postman, jumpcloud, okta, google, entra, info, changeUsers };
}

export type Sandbox = ReturnType<typeof createSandbox>;

/** Starts the sandbox on a loopback port (0 = any free one). */
export async function startSandbox(options: SandboxOptions & { port?: number; hostname?: string } = {}) {
  const sandbox = createSandbox(options);
  const server = serve({ fetch: sandbox.app.fetch, port: options.port ?? 0, hostname: options.hostname ?? "127.0.0.1" }) as Server;
  if (!server.listening) {
    await new Promise((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject); // a port in use rejects instead of hanging
    });
  }
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    ...sandbox,
    url,
    baseUrl: (vendor: Vendor) => `${url}${BASE_PATHS[vendor]}`,
    key: (vendor: Vendor, tenant: string) => sandbox.world.keyFor(vendor, tenant),
    /**
     * What a connection to this simulator takes: the tenant's API key (`key`, for the
     * integration's one credential field) or, for Google's service account, the credentials
     * by their names in its JSON key file; and the config (base URL, token endpoint, the
     * administrator a Google service account acts for).
     */
    connectionFor: (
      vendor: Vendor,
      tenant: string,
    ): { key?: string; credentials?: Record<string, string>; config: Record<string, string> } => {
      const base_url = `${url}${BASE_PATHS[vendor]}`;
      if (vendor === "entra") {
        const app = sandbox.entra.appOf(tenant);
        return {
          credentials: { client_id: app.clientId, client_secret: app.clientSecret },
          config: { base_url, tenant_id: app.tenantId, token_url: `${base_url}/${app.tenantId}/oauth2/v2.0/token` },
        };
      }
      if (vendor !== "google") return { key: sandbox.world.keyFor(vendor, tenant), config: { base_url } };
      const account = sandbox.google.serviceAccount(tenant);
      return {
        credentials: { client_email: account.clientEmail, private_key: account.privateKey },
        config: { base_url, token_url: `${base_url}/token`, admin_email: account.subject },
      };
    },
    fault: (spec: FaultSpec) => sandbox.world.faults.add(spec),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type RunningSandbox = Awaited<ReturnType<typeof startSandbox>>;
