import type { Connection } from "@unifold/db";
import {
  type Integration,
  RateLimitedLocally,
  UpstreamFailure,
  type UpstreamResponse,
  UpstreamShapeError,
  UpstreamStatusError,
  type UpstreamTarget,
} from "@unifold/engine";
import { MappingError } from "@unifold/mapping";
import type { Context } from "hono";
import { VaultError } from "@unifold/db";
import { ApiError, redacted, upstreamBody } from "./errors.ts";
import type { AppEnv } from "./services.ts";

/**
 * The connection a unified/proxy/passthrough call names, as its API key may see it:
 * another tenant's connection answers exactly like an unknown one.
 */
export async function reachableConnection(c: Context<AppEnv>, id: string): Promise<Reachable> {
  const { connections, integrations } = c.get("services");
  const found = await connections.getSealed(id);
  const tenant = c.get("apiKey").tenantId;
  if (!found || (tenant && found.connection.tenantId !== tenant)) throw new ApiError("not_found", `no connection with id ${id}`);
  const { connection, sealed } = found;
  const integration = integrations.get(connection.integration);
  if (!integration)
    throw new ApiError("internal_error", `connection ${id} uses integration "${connection.integration}", which is not loaded`);
  if (connection.status === "disabled") throw new ApiError("forbidden", `connection ${id} is disabled`);
  if (connection.status === "needs_reauth") {
    throw new ApiError(
      "upstream_unauthorized",
      `${integration.name} rejected this connection's credentials; replace them or call POST /connections/${id}/verify`,
    );
  }
  return { connection, integration, sealed };
}

/** A connection the caller may use, its integration, and its still-encrypted credentials. */
export interface Reachable {
  connection: Connection;
  integration: Integration;
  sealed: string;
}

/**
 * Runs upstream work for a connection with its credentials decrypted for just that long, and
 * turns every upstream failure into the contract's error (a 401/403 marks it needs_reauth).
 */
export async function withUpstream<T>(
  c: Context<AppEnv>,
  { connection, integration, sealed }: Reachable,
  work: (target: UpstreamTarget) => Promise<T>,
): Promise<T> {
  const credentials = await c
    .get("services")
    .connections.open(connection.id, sealed)
    .catch((error: unknown) => {
      // Sealed under a key this instance's ring lacks (another instance has a newer ring): say so
      // plainly; the same call on an instance with the full ring succeeds.
      if (error instanceof VaultError && error.code === "unknown_key")
        throw new ApiError("unavailable", `${error.message}; give every gateway instance the same UNIFOLD_ENCRYPTION_KEYS`);
      throw error;
    });
  const started = performance.now();
  const note = (status?: number) =>
    c.set("upstream", {
      connectionId: connection.id,
      integration: integration.slug,
      ms: Math.round((performance.now() - started) * 100) / 100,
      status,
    });
  try {
    const result = await work({ integration, config: connection.config, credentials, connectionId: connection.id });
    note();
    return result;
  } catch (error) {
    note(error instanceof UpstreamStatusError ? error.response.status : undefined);
    throw await asApiError(c, connection, integration, error, Object.values(credentials));
  }
}

async function asApiError(
  c: Context<AppEnv>,
  connection: Connection,
  integration: Integration,
  error: unknown,
  secrets: readonly string[],
): Promise<unknown> {
  if (error instanceof UpstreamStatusError) {
    const { status } = error.response;
    const upstream = { status, body: upstreamBody(error.response.body, error.response.text, secrets) };
    const applied = error.applied.length ? ` (already done before this failed: ${error.applied.join(", ")})` : "";
    const said = redacted(`${error.upstreamMessage ? `: ${error.upstreamMessage}` : ""}${applied}`, secrets);
    if (status === 401 || status === 403) {
      await c.get("services").connections.update(connection.id, { status: "needs_reauth" });
      return new ApiError(
        "upstream_unauthorized",
        `${integration.name} rejected the connection's credentials (upstream status ${status})${said}`,
        { upstream },
      );
    }
    if (status === 404)
      return new ApiError("not_found", `${integration.name} has no such record (upstream status 404)${said}`, { upstream });
    if (status === 409)
      return new ApiError("conflict", `${integration.name} reported a conflict (upstream status 409)${said}`, { upstream });
    if (status === 429) {
      c.get("services").metrics.rateLimited.inc({ cause: "upstream" });
      const retryAfter = error.response.headers["retry-after"];
      return new ApiError("rate_limited", `${integration.name} is rate limiting this connection (upstream status 429)`, {
        upstream,
        headers: { ...(retryAfter && { "retry-after": retryAfter }), ...rateLimitHeaders(integration, error.response) },
      });
    }
    if (status >= 400 && status < 500)
      return new ApiError("invalid_request", `${integration.name} refused the request (upstream status ${status})${said}`, { upstream });
    return new ApiError("upstream_error", `${integration.name} failed (upstream status ${status})${said}`, { upstream });
  }
  if (error instanceof RateLimitedLocally) {
    c.get("services").metrics.rateLimited.inc({ cause: "connection" });
    return new ApiError("rate_limited", `${integration.name}: ${error.message}; retry in ${error.retryAfterSeconds} s`, {
      headers: { "retry-after": String(error.retryAfterSeconds) },
    });
  }
  if (error instanceof UpstreamFailure) {
    const code = error.kind === "timeout" ? "upstream_timeout" : error.kind === "too_large" ? "upstream_too_large" : "upstream_error";
    return new ApiError(code, `${integration.name}: ${error.message}`);
  }
  if (error instanceof UpstreamShapeError) return new ApiError("upstream_error", `${integration.name}: ${error.message}`);
  if (error instanceof MappingError) return new ApiError("upstream_error", `${integration.name}: mapping ${error.message}`);
  return error;
}

/** The upstream's rate-limit state as `ratelimit-*` headers, where the integration says where it is. */
export function rateLimitHeaders(integration: Integration, response: UpstreamResponse): Record<string, string> {
  const names = integration.rate_limit_headers;
  const out: Record<string, string> = {};
  if (!names) return out;
  for (const key of ["limit", "remaining", "reset"] as const) {
    const header = names[key];
    const value = header ? response.headers[header.toLowerCase()] : undefined;
    if (value !== undefined) out[`ratelimit-${key}`] = value;
  }
  return out;
}
