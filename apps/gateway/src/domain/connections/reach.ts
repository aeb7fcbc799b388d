import { type Connection, VaultError } from "@unifold/db";
import {
  type Integration,
  PacingUnavailable,
  RateLimitedLocally,
  TokenRefused,
  UpstreamStatusError,
  type UpstreamTarget,
} from "@unifold/engine";
import { Failure, failureOf, rejectsCredentials } from "../failure.ts";
import type { Deps } from "../caller.ts";
import type { ConnectionsParts } from "./parts.ts";

/** The connection's directory is pushed over SCIM: no vendor API to reach (a unified read is answered from its copy instead). */
export class PushedConnection extends Failure {}

/** A connection the caller may use, its integration, and its still-encrypted credentials. */
export interface Reachable {
  connection: Connection;
  integration: Integration;
  sealed: string;
}

/**
 * The connection a unified/proxy/passthrough call names, as the caller's API key may see it:
 * another tenant's connection answers exactly like an unknown one.
 */
export async function reachConnection({ parts, caller }: Deps<ConnectionsParts>, id: string): Promise<Reachable> {
  const found = await parts.store.getSealed(id);
  const tenant = caller.apiKey.tenantId;
  if (!found || (tenant && found.connection.tenantId !== tenant)) throw new Failure("not_found", `no connection with id ${id}`);
  const { connection, sealed } = found;
  const integration = parts.integrations.get(connection.integration);
  if (!integration && parts.pushed.has(connection.integration)) {
    throw new PushedConnection(
      "invalid_request",
      `connection ${id}'s directory is pushed by its identity provider over SCIM, which owns it: read what it pushed at /unified/records/{resource}, and change it in the identity provider`,
    );
  }
  if (!integration)
    throw new Failure("internal_error", `connection ${id} uses integration "${connection.integration}", which is not loaded`);
  if (connection.status === "disabled") throw new Failure("forbidden", `connection ${id} is disabled`);
  if (connection.status === "needs_reauth") {
    throw new Failure(
      "upstream_unauthorized",
      `${integration.name} rejected this connection's credentials; replace them or call POST /connections/${id}/verify`,
    );
  }
  return { connection, integration, sealed };
}

/**
 * Runs upstream work for a connection with its credentials decrypted for just that long. A
 * failure becomes the contract's error (errors.ts); one that rejects the credentials also marks
 * the connection needs_reauth, so later calls fail fast without reaching the vendor.
 */
export async function withUpstream<T>(
  deps: Deps<ConnectionsParts>,
  reachable: Reachable,
  work: (target: UpstreamTarget) => Promise<T>,
): Promise<T> {
  const { parts, caller } = deps;
  const { connection, integration } = reachable;
  const credentials = await openCredentials(deps, reachable);
  const started = performance.now();
  const note = (status?: number) =>
    caller.onUpstream?.({
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
    const status = error instanceof UpstreamStatusError ? error.response.status : undefined;
    note(status);
    const rejected = (status !== undefined && rejectsCredentials(integration, status)) || error instanceof TokenRefused;
    if (rejected) await parts.store.update(connection.id, { status: "needs_reauth" });
    if (status === 429) parts.metrics.rateLimited.inc({ cause: "upstream" });
    if (error instanceof RateLimitedLocally) parts.metrics.rateLimited.inc({ cause: "connection" });
    if (error instanceof PacingUnavailable) parts.metrics.limitStoreUnavailable.inc();
    throw failureOf(integration, error, Object.values(credentials));
  }
}

/** The connection's credentials, decrypted; a key this instance's ring lacks is a clear 503. */
async function openCredentials({ parts }: Deps<ConnectionsParts>, { connection, sealed }: Reachable): Promise<Record<string, string>> {
  try {
    return await parts.store.open(connection.id, sealed);
  } catch (error) {
    // Sealed under a key this instance's ring lacks (another instance has a newer ring): the
    // same call on an instance with the full ring succeeds.
    if (error instanceof VaultError && error.code === "unknown_key")
      throw new Failure("unavailable", `${error.message}; give every gateway instance the same UNIFOLD_ENCRYPTION_KEYS`);
    throw error;
  }
}
