import type { ApiKey } from "@unifold/db";
import { Failure } from "./failure.ts";
import type { Services } from "../services.ts";

/** Who asked: an HTTP request, a CLI command or a background job alike. */
export interface Caller {
  /** The API key acting; a key bound to a tenant reaches only that tenant's connections. */
  apiKey: Pick<ApiKey, "id" | "tenantId">;
  /** Aborted when the caller gives up; upstream work stops with it. */
  signal: AbortSignal;
  /** This call took over an Idempotency-Key whose earlier run never finished, so that run may have written. */
  resumed?: boolean | undefined;
  /** Told which connection a call reached and how long the upstream part took (the access log). */
  onUpstream?: ((note: UpstreamNote) => void) | undefined;
}

export interface UpstreamNote {
  connectionId: string;
  integration: string;
  ms: number;
  status?: number | undefined;
}

/** What every domain function is given: the gateway's services and the caller. */
export interface Deps {
  services: Services;
  caller: Caller;
}

/**
 * The tenant a call is limited to: a tenant-bound key's own, else the one it names (undefined:
 * every tenant). Naming another tenant than the key's own is forbidden, never quietly ignored.
 */
export function tenantScope(deps: Deps, requested: string | undefined): string | undefined {
  const bound = deps.caller.apiKey.tenantId;
  if (bound && requested !== undefined && requested !== bound) throw new Failure("forbidden", `this API key is bound to tenant ${bound}`);
  return bound ?? requested;
}

/** The tenant a call acts for: a tenant-bound key's own, else the one the call names (required then). */
export function tenantOf(deps: Deps, requested: string | undefined): string {
  const tenant = tenantScope(deps, requested);
  if (!tenant)
    throw new Failure("invalid_request", "tenant_id: required, because this API key is not bound to a tenant", {
      details: [{ path: "tenant_id", message: "required for an API key not bound to a tenant" }],
    });
  return tenant;
}
