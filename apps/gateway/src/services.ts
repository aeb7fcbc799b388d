import type { ApiKey, ApiKeyStore, ConnectionStore, IdempotencyStore, Store } from "@unifold/db";
import type { CursorCodec, Integration, RateRule, tokenBuckets, UpstreamClient } from "@unifold/engine";
import type { Logger } from "pino";
import type { Metrics } from "./metrics.ts";

/** Everything a request handler may use; tests build it with a real database and loopback upstreams. */
export interface Services {
  store: Store;
  connections: ConnectionStore;
  apiKeys: ApiKeyStore;
  idempotency: IdempotencyStore;
  integrations: ReadonlyMap<string, Integration>;
  upstream: UpstreamClient;
  cursors: CursorCodec;
  logger: Logger;
  metrics: Metrics;
  /** Requests each API key may make on the gateway, when limited. */
  apiKeyLimit?: { rule: RateRule; buckets: ReturnType<typeof tokenBuckets> } | undefined;
}

export interface AppEnv {
  // Read with c.get(name): hono's c.var builds a new object of every variable on each access.
  Variables: {
    services: Services;
    requestId: string;
    apiKey: ApiKey;
    /** Set when this request took over the Idempotency-Key of an earlier run that never finished: that run may have written. */
    resumed?: boolean;
    /** Set by calls that reach an upstream, for the access log. */
    upstream?: { connectionId: string; integration: string; ms: number; status?: number | undefined };
  };
}
