import type { ApiKey } from "@unifold/db";
import { Failure } from "./failure.ts";

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

/**
 * What every domain function is given: its own feature module's parts (never the whole gateway)
 * and the caller. A module's public functions take the caller and build this once.
 */
export interface Deps<Parts> {
  parts: Parts;
  caller: Caller;
}

/**
 * The tenant a call is limited to: a tenant-bound key's own, else the one it names (undefined:
 * every tenant). Naming another tenant than the key's own is forbidden, never quietly ignored.
 */
export function tenantScope(caller: Caller, requested: string | undefined): string | undefined {
  const bound = caller.apiKey.tenantId;
  if (bound && requested !== undefined && requested !== bound) throw new Failure("forbidden", `this API key is bound to tenant ${bound}`);
  return bound ?? requested;
}

/** The tenant a call acts for: a tenant-bound key's own, else the one the call names (required then). */
export function tenantOf(caller: Caller, requested: string | undefined): string {
  const tenant = tenantScope(caller, requested);
  if (!tenant)
    throw new Failure("invalid_request", "tenant_id: required, because this API key is not bound to a tenant", {
      details: [{ path: "tenant_id", message: "required for an API key not bound to a tenant" }],
    });
  return tenant;
}

type DomainFunction<Parts> = (deps: Deps<Parts>, ...args: any[]) => unknown;
type WithCaller<F> = F extends (deps: Deps<infer _>, ...args: infer A) => infer R ? (caller: Caller, ...args: A) => R : never;

/**
 * A feature module's public functions: each of its domain functions given the module's parts,
 * so that callers pass only who is calling (`module.fn(caller, input)`).
 */
export function withCaller<Parts, Functions extends Record<string, DomainFunction<Parts>>>(
  parts: Parts,
  functions: Functions,
): { [K in keyof Functions]: WithCaller<Functions[K]> } {
  return Object.fromEntries(
    Object.entries(functions).map(([name, fn]) => [name, (caller: Caller, ...args: unknown[]) => fn({ parts, caller }, ...args)]),
  ) as { [K in keyof Functions]: WithCaller<Functions[K]> };
}
