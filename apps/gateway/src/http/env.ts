import type { ApiKey } from "@unifold/db";
import type { Context } from "hono";
import type { Caller, UpstreamNote } from "../domain/caller.ts";
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

/** Who is calling, as the domain sees it: the request's API key, its abort signal, its access-log note. */
export function callerOf(c: Context<AppEnv>): Caller {
  return {
    apiKey: c.get("apiKey"),
    signal: c.req.raw.signal,
    resumed: c.get("resumed"),
    onUpstream: (note) => c.set("upstream", note),
  };
}
