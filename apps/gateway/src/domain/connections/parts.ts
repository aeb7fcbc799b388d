import type { ConnectionStore } from "@unifold/db";
import type { CursorCodec, Integration, UpstreamClient } from "@unifold/engine";
import type { Metrics } from "../../metrics.ts";
import type { Events } from "../events/index.ts";

/** What the connections module is built from; nothing else reaches its store. */
export interface ConnectionsParts {
  store: ConnectionStore;
  integrations: ReadonlyMap<string, Integration>;
  /** Slugs of the integrations whose directories push: their connections are not reached through a vendor API. */
  pushed: ReadonlySet<string>;
  upstream: UpstreamClient;
  cursors: CursorCodec;
  metrics: Pick<Metrics, "rateLimited" | "limitStoreUnavailable">;
  events: Pick<Events, "publish">;
}
