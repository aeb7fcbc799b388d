import type { CursorCodec } from "@unifold/engine";
import type { EmitterParts } from "./emitter.ts";

/** What the events module is built from: the emitter's parts and the cursor codec of the log's pages. */
export interface EventsParts extends EmitterParts {
  cursors: CursorCodec;
}
