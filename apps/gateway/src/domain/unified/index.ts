import { withCaller } from "../caller.ts";
import { runBatch } from "./batch.ts";
import type { UnifiedParts } from "./parts.ts";
import { getUnified, listUnified, readChanges } from "./read.ts";
import { listProxy, relayPassthrough, relayProxyRecord } from "./relay.ts";
import { writeUnified } from "./write.ts";

export type { BatchOperation, BatchOutcome } from "./batch.ts";
export { oneOf, supportedOperation } from "./operations.ts";
export type { ChangesPage, ListInput, UnifiedPage } from "./read.ts";
export type { Relayed, RelayRequest } from "./relay.ts";
export type { WriteResult } from "./write.ts";
export type { UnifiedParts };

/** The unified API: reads and writes in the unified model, batches, and the proxy and passthrough relays. */
export type Unified = ReturnType<typeof createUnified>;

export function createUnified(parts: UnifiedParts) {
  return withCaller(parts, {
    list: listUnified,
    changes: readChanges,
    get: getUnified,
    write: writeUnified,
    batch: runBatch,
    proxyList: listProxy,
    proxyRecord: relayProxyRecord,
    passthrough: relayPassthrough,
  });
}
