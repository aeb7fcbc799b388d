import type { NewScimRequest } from "@unifold/db";
import { loggable } from "../../logger.ts";
import type { ScimParts } from "./parts.ts";

/** How long an entry waits to be written with others, and how many are written at most at once. */
const FLUSH_AFTER_MS = 200;
const BATCH = 500;

/**
 * The request log's writer. An identity provider's push is hundreds of requests a second, and a
 * log row written per request (awaited before answering) was a round trip on each: entries are
 * written together instead, FLUSH_AFTER_MS after the first of them. The price: a process killed
 * with -9 loses the entries of its last FLUSH_AFTER_MS. Reading the log writes what waits first,
 * so an instance always reads its own requests.
 */
export function requestLog(parts: Pick<ScimParts, "store" | "logger">) {
  let waiting: NewScimRequest[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();

  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const taken = waiting;
    waiting = [];
    // One write at a time, in order, so the log's ids follow the requests' order within an instance.
    writing = writing.then(async () => {
      for (let i = 0; i < taken.length; i += BATCH) {
        await parts.store
          .logRequests(taken.slice(i, i + BATCH))
          .catch((error: unknown) => parts.logger.warn({ err: loggable(error), entries: taken.length }, "SCIM requests were not logged"));
      }
    });
    return writing;
  };

  return {
    /** Records one finished request (no body, no token); written within FLUSH_AFTER_MS. */
    add(entry: Omit<NewScimRequest, "at">) {
      waiting.push({ ...entry, at: new Date() });
      if (waiting.length >= BATCH) void flush();
      else timer ??= setTimeout(() => void flush(), FLUSH_AFTER_MS).unref();
    },
    /** Writes every entry still waiting (before a read, and on shutdown). */
    flush,
  };
}
