import type { ApiKey } from "@unifold/db";
import type { Context } from "hono";
import type { Deps, UpstreamNote } from "../domain/deps.ts";
import type { Services } from "../services.ts";

export interface AppEnv {
  // Read with c.get(name): hono's c.var builds a new object of every variable on each access.
  Variables: {
    services: Services;
    requestId: string;
    apiKey: ApiKey;
    /** Set when this request took over the Idempotency-Key of an earlier run that never finished: that run may have written. */
    resumed?: boolean;
    /** Set by calls that reach an upstream, for the access log. */
    upstream?: UpstreamNote;
  };
}

/** The domain's view of this request: the services, the caller's key, its abort signal. */
export function depsOf(c: Context<AppEnv>): Deps {
  return {
    services: c.get("services"),
    caller: {
      apiKey: c.get("apiKey"),
      signal: c.req.raw.signal,
      resumed: c.get("resumed"),
      onUpstream: (note) => c.set("upstream", note),
    },
  };
}
