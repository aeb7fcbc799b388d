import type { ScimStore, SyncStore } from "@unifold/db";
import type { CursorCodec, PushIntegration } from "@unifold/engine";
import type { Logger } from "pino";
import type { Connections } from "../connections/index.ts";
import type { Events } from "../events/index.ts";

/** What the SCIM service is built from: what was pushed, the push integrations' mappings, and the modules it announces through. */
export interface ScimParts {
  store: ScimStore;
  /** The unified copy the pushes write: read back by the unified API. */
  copy: Pick<SyncStore, "live">;
  cursors: CursorCodec;
  /** Integrations whose directories push (`direction: push` in mappings/). */
  integrations: ReadonlyMap<string, PushIntegration>;
  connections: Pick<Connections, "find" | "findCached" | "createPushed">;
  events: Pick<Events, "publish" | "emit">;
  logger: Logger;
}
