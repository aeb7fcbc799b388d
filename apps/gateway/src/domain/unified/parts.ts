import type { CursorCodec, UpstreamClient, UpstreamTarget } from "@unifold/engine";
import type { Logger } from "pino";
import type { Metrics } from "../../metrics.ts";
import type { Deps } from "../caller.ts";
import type { Connections, Reachable } from "../connections/index.ts";
import type { Scim } from "../scim/index.ts";

export type { Reachable };

/** What the unified module (reads, writes, batches, proxy and passthrough) is built from. */
export interface UnifiedParts {
  connections: Pick<Connections, "reach" | "withUpstream">;
  /** Reads of directories that push, answered from their copy. */
  pushed: Pick<Scim, "readList" | "readOne">;
  upstream: UpstreamClient;
  cursors: CursorCodec;
  metrics: Pick<Metrics, "mappingSeconds" | "offModelValues">;
  logger: Logger;
}

/** The connection a call names, as the caller's key may reach it (the connections module decides). */
export const reachConnection = (deps: Deps<UnifiedParts>, id: string) => deps.parts.connections.reach(deps.caller, id);

/** Upstream work with the connection's credentials open, failures answered as the contract's. */
export const withUpstream = <T>(deps: Deps<UnifiedParts>, reachable: Reachable, work: (target: UpstreamTarget) => Promise<T>) =>
  deps.parts.connections.withUpstream(deps.caller, reachable, work);
