import type { SyncStore } from "@unifold/db";
import type { CursorCodec } from "@unifold/engine";
import type { Logger } from "pino";
import type { JobQueue } from "../../jobs/queue.ts";
import type { Metrics } from "../../metrics.ts";
import type { Connections } from "../connections/index.ts";
import type { Events } from "../events/index.ts";
import type { Unified } from "../unified/index.ts";

/** What the syncs module is built from: its store (the copy), and the modules it reads and announces through. */
export interface SyncsParts {
  store: SyncStore;
  queue: Pick<JobQueue, "runSync">;
  cursors: CursorCodec;
  events: Pick<Events, "publish" | "emit">;
  connections: Pick<Connections, "reach" | "find" | "integrations">;
  unified: Pick<Unified, "list" | "changes">;
  metrics: Pick<Metrics, "recordsSeen" | "syncRuns">;
  logger: Logger;
}
