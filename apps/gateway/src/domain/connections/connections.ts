import { createHash } from "node:crypto";
import type { Connection, ConnectionStatus } from "@unifold/db";
import type { Integration } from "@unifold/engine";
import { Failure, type ErrorDetail } from "../failure.ts";
import type { Deps } from "../caller.ts";
import { keysetPage } from "../cursor.ts";
import type { ConnectionsParts } from "./parts.ts";
import { verifyCredentials, verifyOrReject } from "./verify.ts";

/** The connection as the API shows it: config with the base URL and every declared field; never its credentials. */
export function present(integrations: ConnectionsParts["integrations"], connection: Connection) {
  const integration = integrations.get(connection.integration);
  const declared = Object.fromEntries(Object.keys(integration?.config ?? {}).map((name) => [name, null]));
  const defaults = { ...declared, base_url: integration?.base_url ?? null };
  return {
    id: connection.id,
    tenant_id: connection.tenantId,
    integration: connection.integration,
    name: connection.name,
    status: connection.status,
    config: { ...defaults, ...connection.config },
    created_at: connection.createdAt.toISOString(),
    updated_at: connection.updatedAt.toISOString(),
    last_verified_at: connection.lastVerifiedAt?.toISOString() ?? null,
  };
}

export interface NewConnection {
  tenant_id: string;
  integration: string;
  credentials: Record<string, string>;
  config?: Record<string, string | null> | undefined;
  name?: string | undefined;
}

/**
 * Registers a connection; its credentials are checked against the vendor first unless `verify`
 * is false. With `reuse`, a verified link to an upstream account the tenant already connected
 * answers that connection (`existing`) and saves nothing.
 */
export async function createConnection(
  deps: Deps<ConnectionsParts>,
  input: NewConnection,
  verify: boolean,
  options: { reuse?: boolean } = {},
): Promise<{ connection: Connection; existing: boolean }> {
  const integration = deps.parts.integrations.get(input.integration);
  if (!integration) {
    throw new Failure("invalid_request", `unknown integration "${input.integration}"`, {
      details: [{ path: "integration", message: `one of ${[...deps.parts.integrations.keys()].join(", ")}` }],
    });
  }
  const credentials = checkCredentials(integration, input.credentials);
  const config = checkConfig(integration, {}, input.config ?? {}, deps.parts.upstream.refusal);
  const accountRef = verify
    ? accountRefOf(integration, config, credentials, await verifyOrReject(deps.parts.upstream, integration, config, credentials))
    : null;
  if (accountRef && options.reuse) {
    const existing = await deps.parts.store.findByAccount(input.tenant_id, accountRef);
    if (existing) return { connection: existing, existing: true };
  }
  const connection = await deps.parts.store.create({
    tenantId: input.tenant_id,
    integration: integration.slug,
    name: input.name ?? null,
    config,
    credentials,
    verifiedAt: verify ? new Date() : null,
    accountRef,
  });
  return { connection, existing: false };
}

/**
 * Registers a connection to a directory that pushes (an identity provider provisioning over
 * SCIM): nothing to verify and no credentials to keep; the SCIM module issues its token.
 */
export async function createPushedConnection(
  deps: Deps<ConnectionsParts>,
  input: Pick<ConnectionPatch, "credentials" | "config"> & { tenant_id: string; integration: string; name?: string | undefined },
): Promise<Connection> {
  refuseSecretsOfPushed(input);
  return deps.parts.store.create({
    tenantId: input.tenant_id,
    integration: input.integration,
    name: input.name ?? null,
    config: {},
    credentials: {},
    verifiedAt: null,
    accountRef: null,
  });
}

/**
 * Which upstream account credentials open, as a one-way hash: the integration, the base URL and
 * the account the verify call names, or where it names none, the credentials themselves (the
 * same key is the same account; another key may be another account).
 */
function accountRefOf(
  integration: Integration,
  config: Record<string, unknown>,
  credentials: Record<string, string>,
  account: string | undefined,
): string {
  const baseUrl = typeof config.base_url === "string" ? config.base_url : integration.base_url;
  const sorted = Object.fromEntries(Object.entries(credentials).sort(([a], [b]) => a.localeCompare(b)));
  const identity = account === undefined ? { credentials: sorted } : { account };
  return createHash("sha256")
    .update(JSON.stringify([integration.slug, baseUrl.replace(/\/+$/, ""), identity]))
    .digest("hex");
}

export interface ConnectionFilter {
  tenant_id?: string | undefined;
  integration?: string | undefined;
  status?: ConnectionStatus | undefined;
}

/** A page of connections, newest first, under a keyset cursor bound to the filter. */
export async function listConnections(deps: Deps<ConnectionsParts>, filter: ConnectionFilter, limit: number, cursor: string | undefined) {
  const binding = `connections:${JSON.stringify([filter.tenant_id, filter.integration, filter.status])}`;
  return keysetPage(deps.parts.cursors, binding, cursor, (after) =>
    deps.parts.store.list({ tenantId: filter.tenant_id, integration: filter.integration, status: filter.status, after, limit }),
  );
}

export async function getConnection(deps: Deps<ConnectionsParts>, id: string): Promise<Connection> {
  const connection = await deps.parts.store.get(id);
  if (!connection) throw notFound(id);
  return connection;
}

export interface ConnectionPatch {
  name?: string | null | undefined;
  config?: Record<string, string | null> | undefined;
  credentials?: Record<string, string> | undefined;
  status?: "active" | "disabled" | undefined;
  /** New credentials may open another upstream account than the connection's (else a 409). */
  allow_account_change?: boolean | undefined;
}

/** Changes a connection; new credentials, a new address or a re-enable are verified before they are saved. */
export async function patchConnection(
  deps: Deps<ConnectionsParts>,
  id: string,
  patch: ConnectionPatch,
  verify: boolean,
): Promise<Connection> {
  const current = await getConnection(deps, id);
  if (deps.parts.pushed.has(current.integration)) return patchPushed(deps, current, patch);
  const integration = integrationOf(deps, current);
  const credentials = patch.credentials ? checkCredentials(integration, patch.credentials) : undefined;
  const config = patch.config ? checkConfig(integration, current.config, patch.config, deps.parts.upstream.refusal) : undefined;
  const mustVerify = verify && Boolean(credentials || config || patch.status === "active");
  let accountRef: string | undefined;
  if (mustVerify) {
    const checkedConfig = config ?? current.config;
    const checkedCredentials = credentials ?? (await deps.parts.store.credentials(id));
    const account = await verifyOrReject(deps.parts.upstream, integration, checkedConfig, checkedCredentials);
    accountRef = accountRefOf(integration, checkedConfig, checkedCredentials, account);
    // The same id reading another directory would make its next sync announce every user as
    // deleted and created again: only on purpose. (Where the vendor names no account, the
    // gateway cannot tell; a new base URL with the same key is the admin's own change.)
    if (credentials && account !== undefined && current.accountRef && accountRef !== current.accountRef && !patch.allow_account_change) {
      throw new Failure(
        "conflict",
        `these details open another ${integration.name} account than connection ${id}'s; set allow_account_change to replace it on purpose`,
      );
    }
  }
  const updated = await deps.parts.store.update(id, {
    accountRef,
    name: patch.name,
    config,
    credentials,
    status: patch.status ?? (mustVerify ? "active" : undefined),
    lastVerifiedAt: mustVerify ? new Date() : undefined,
  });
  if (!updated) throw notFound(id);
  return updated;
}

/** A directory that pushes has no credentials or config: its identity provider holds a SCIM token instead. */
function refuseSecretsOfPushed(input: Pick<ConnectionPatch, "credentials" | "config">) {
  for (const field of ["credentials", "config"] as const) {
    if (input[field] !== undefined)
      throw new Failure(
        "invalid_request",
        `${field}: a directory that pushes takes none; its identity provider gets a SCIM token instead`,
        {
          details: [{ path: field, message: "not taken by a directory that pushes" }],
        },
      );
  }
}

/** A pushed directory's connection has a name and a status to change; nothing to verify. */
async function patchPushed(deps: Deps<ConnectionsParts>, current: Connection, patch: ConnectionPatch): Promise<Connection> {
  refuseSecretsOfPushed(patch);
  const updated = await deps.parts.store.update(current.id, { name: patch.name, status: patch.status });
  if (!updated) throw notFound(current.id);
  return updated;
}

/**
 * Deletes a connection and erases its directory from the gateway: the synced copy and every
 * record event (people's data) go in the same transaction that writes one `connection.deleted`
 * event, the erasure path docs/contract.md names.
 */
export async function removeConnection(deps: Deps<ConnectionsParts>, id: string): Promise<void> {
  const erased = await deps.parts.events.publish((emit) =>
    deps.parts.store.remove(id, async (tx, erasure) => {
      const { connection } = erasure;
      await emit(tx, [
        {
          tenantId: connection.tenantId,
          connectionId: connection.id,
          integration: connection.integration,
          type: "connection.deleted",
          version: null,
          data: { connection_id: connection.id, erased: { records: erasure.records, events: erasure.events } },
        },
      ]);
    }),
  );
  if (!erased) throw notFound(id);
}

/** Checks the stored credentials against the vendor: active when accepted, needs_reauth when not. */
export async function reverifyConnection(deps: Deps<ConnectionsParts>, id: string): Promise<Connection> {
  const current = await getConnection(deps, id);
  if (deps.parts.pushed.has(current.integration))
    throw new Failure("invalid_request", `connection ${id}'s directory pushes: there is no vendor to verify it with`);
  const integration = integrationOf(deps, current);
  const credentials = await deps.parts.store.credentials(id);
  const { ok } = await verifyCredentials(deps.parts.upstream, integration, current.config, credentials);
  const updated = await deps.parts.store.update(id, {
    status: ok ? "active" : "needs_reauth",
    ...(ok && { lastVerifiedAt: new Date() }),
  });
  if (!updated) throw notFound(id);
  return updated;
}

const notFound = (id: string) => new Failure("not_found", `no connection with id ${id}`);

function integrationOf(deps: Deps<ConnectionsParts>, connection: Connection): Integration {
  const integration = deps.parts.integrations.get(connection.integration);
  if (!integration)
    throw new Failure("internal_error", `connection ${connection.id} uses integration "${connection.integration}", which is not loaded`);
  return integration;
}

/** Credentials must be exactly the integration's fields: required ones present, no strangers. */
function checkCredentials(integration: Integration, given: Record<string, string>): Record<string, string> {
  const details: ErrorDetail[] = [];
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(integration.credentials, name))
      details.push({ path: `credentials.${name}`, message: `${integration.name} takes no credential "${name}"` });
  }
  for (const [name, field] of Object.entries(integration.credentials)) {
    if (field.required && !given[name]) details.push({ path: `credentials.${name}`, message: `${field.label} is required` });
  }
  if (details.length) throw new Failure("invalid_request", details.map((d) => d.message).join("; "), { details });
  return given;
}

/**
 * Merges a config patch into the current config (null removes a key) and checks the result.
 * Problems are named under `path`; `partial` leaves required fields to be given later (a connect
 * session's presets, which the customer's form completes).
 */
export function checkConfig(
  integration: Integration,
  current: Record<string, unknown>,
  patch: Record<string, string | null>,
  refusal: (baseUrl: string) => string | undefined,
  options: { path?: string; partial?: boolean } = {},
): Record<string, unknown> {
  const path = options.path ?? "config";
  const details: ErrorDetail[] = [];
  const merged: Record<string, unknown> = { ...current };
  for (const [name, value] of Object.entries(patch)) {
    // The base URL, and for an integration that gets access tokens the token endpoint, may be
    // given for any connection; other names must be declared.
    const builtIn = name === "base_url" || (name === "token_url" && integration.auth.token !== undefined);
    if (!builtIn && !Object.hasOwn(integration.config, name)) {
      details.push({ path: `${path}.${name}`, message: `${integration.name} takes no config "${name}"` });
      continue;
    }
    if (value === null) delete merged[name];
    else merged[name] = value;
  }
  // The network policy (SSRF guard) applies to the default base URL as much as to a configured one.
  const urlProblem = (url: string) => {
    if (!isHttpUrl(url)) return "must be an absolute http(s) URL without credentials";
    const refused = refusal(url);
    return refused ? `refused: ${refused}` : undefined;
  };
  const urls = { base_url: typeof merged.base_url === "string" ? merged.base_url : integration.base_url, token_url: merged.token_url };
  for (const [name, url] of Object.entries(urls)) {
    const problem = typeof url === "string" ? urlProblem(url) : undefined;
    if (problem) details.push({ path: `${path}.${name}`, message: problem });
  }
  for (const [name, field] of Object.entries(integration.config)) {
    if (!options.partial && field.required && !merged[name])
      details.push({ path: `${path}.${name}`, message: `${field.label} is required` });
  }
  if (details.length) throw new Failure("invalid_request", details.map((d) => d.message).join("; "), { details });
  return merged;
}

/** An absolute http(s) URL that carries no credentials of its own. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || url.protocol === "http:") && !url.username && !url.password;
  } catch {
    return false;
  }
}

/**
 * A field's `pattern` must match the whole value, as an HTML `pattern` attribute does (with the v
 * flag). The connect page checks it; the admin API leaves the verdict to the vendor.
 */
export function matchesPattern(field: { pattern?: string | undefined }, value: string): boolean {
  return field.pattern === undefined || new RegExp(`^(?:${field.pattern})$`, "v").test(value);
}
