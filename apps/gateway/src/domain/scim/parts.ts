import type { ScimStore } from "@unifold/db";
import type { PushIntegration } from "@unifold/engine";
import type { Logger } from "pino";
import type { Connections } from "../connections/index.ts";
import type { Events } from "../events/index.ts";

/** What the SCIM service is built from: what was pushed, the push integrations' mappings, and the modules it announces through. */
export interface ScimParts {
  store: ScimStore;
  /** Integrations whose directories push (`direction: push` in mappings/). */
  integrations: ReadonlyMap<string, PushIntegration>;
  connections: Pick<Connections, "find" | "createPushed">;
  events: Pick<Events, "publish" | "emit">;
  logger: Logger;
}
