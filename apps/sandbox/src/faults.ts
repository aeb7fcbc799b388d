import type { HttpBindings } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { randomSource } from "./directory.ts";

export type Vendor = "jostle" | "postman" | "jumpcloud" | "okta" | "google" | "entra";

/**
 * What a fault does to a matching request:
 * latency (then answers normally), status (an error answer, 429 with Retry-After),
 * reset (the socket is destroyed), malformed (200 with invalid JSON), truncate (a body cut short),
 * stall (headers and part of a body, then nothing until stall_ms),
 * lost (the request is carried out, then the socket is destroyed: the answer never arrives),
 * lying_total (a list answer reports `total` records, whatever it holds),
 * ignore_paging (a list answer starts at the first record, whatever position was asked for),
 * invalid_escape (the first string value in the answer gains a `\q` escape JSON does not have),
 * invalid_utf8 (the first string value gains a byte that is not UTF-8),
 * oversize (the answer's first object gains `size_bytes` of padding, 12 MiB unless given),
 * redirect (a 302 to `location`, which a client must not follow with the credentials).
 * These are what servers that nobody here wrote do (RFC 7644 lets a page be shorter than asked).
 */
export interface FaultSpec {
  vendor: Vendor;
  tenant?: string | undefined;
  kind:
    | "latency"
    | "status"
    | "reset"
    | "malformed"
    | "truncate"
    | "stall"
    | "lost"
    | "lying_total"
    | "ignore_paging"
    | "invalid_escape"
    | "invalid_utf8"
    | "oversize"
    | "redirect";
  /** Affect the next N matching requests… */
  count?: number | undefined;
  /** …or this fraction of them (0–1), drawn from a seeded source. */
  ratio?: number | undefined;
  /** Only requests whose path contains this. */
  path?: string | undefined;
  method?: string | undefined;
  latency_ms?: number | undefined;
  status?: number | undefined;
  retry_after?: string | undefined;
  stall_ms?: number | undefined;
  /** With lying_total: the total the list answer claims. */
  total?: number | undefined;
  /** With oversize: how many bytes of padding. */
  size_bytes?: number | undefined;
  /** With redirect: where to. */
  location?: string | undefined;
}

interface ActiveFault extends FaultSpec {
  id: number;
  remaining: number;
}

export class FaultBook {
  private faults: ActiveFault[] = [];
  private nextId = 1;
  private readonly random = randomSource("faults");

  add(spec: FaultSpec): number {
    const id = this.nextId++;
    this.faults.push({ ...spec, id, remaining: spec.count ?? (spec.ratio === undefined ? 1 : Number.POSITIVE_INFINITY) });
    return id;
  }

  clear(): void {
    this.faults = [];
  }

  list(): ActiveFault[] {
    return this.faults;
  }

  /** The fault this request draws, if any (consuming one use of a counted fault). */
  draw(vendor: Vendor, tenant: string, method: string, path: string): FaultSpec | undefined {
    for (const fault of this.faults) {
      if (fault.vendor !== vendor || fault.remaining <= 0) continue;
      if (fault.tenant && fault.tenant !== tenant) continue;
      if (fault.path && !path.includes(fault.path)) continue;
      if (fault.method && fault.method.toUpperCase() !== method) continue;
      if (fault.ratio !== undefined && this.random() >= fault.ratio) continue;
      fault.remaining--;
      if (fault.remaining <= 0) this.faults = this.faults.filter((f) => f !== fault);
      return fault;
    }
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Carries out a drawn fault. Returns a Response to send, or undefined to go on (after latency). */
export async function enact(
  fault: FaultSpec,
  c: { env: HttpBindings },
  errorBody: (status: number) => unknown,
): Promise<Response | undefined> {
  switch (fault.kind) {
    case "latency":
      await sleep(fault.latency_ms ?? 1000);
      return undefined;
    case "status": {
      const status = fault.status ?? 500;
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (status === 429) headers["retry-after"] = fault.retry_after ?? "1";
      return new Response(JSON.stringify(errorBody(status)), { status, headers });
    }
    case "malformed":
      return new Response('{"Resources": [{"id": "1", "userName": ', { status: 200, headers: { "content-type": "application/json" } });
    case "reset":
      c.env.incoming.socket.destroy();
      return RESPONSE_ALREADY_SENT;
    case "redirect":
      return new Response(null, { status: 302, headers: { location: fault.location ?? "http://127.0.0.1:9/elsewhere" } });
    case "lost":
    case "lying_total":
    case "ignore_paging":
    case "invalid_escape":
    case "invalid_utf8":
    case "oversize":
      // Carried out by the caller (the gate), around the request itself.
      return undefined;
    case "truncate": {
      const { outgoing } = c.env;
      outgoing.writeHead(200, { "content-type": "application/json", "content-length": "4096" });
      outgoing.write('{"results": [{"_id": "');
      setTimeout(() => outgoing.destroy(), 20);
      return RESPONSE_ALREADY_SENT;
    }
    case "stall": {
      const { outgoing } = c.env;
      outgoing.writeHead(200, { "content-type": "application/json" });
      outgoing.write('{"Resources": [');
      const timer = setTimeout(() => outgoing.destroy(), fault.stall_ms ?? 60_000);
      outgoing.on("close", () => clearTimeout(timer));
      return RESPONSE_ALREADY_SENT;
    }
  }
}

/**
 * A JSON answer's bytes with the damage a body fault does, or undefined when the answer has no
 * string or object to damage.
 */
export function damaged(fault: FaultSpec, text: string): Uint8Array | undefined {
  if (fault.kind === "oversize") {
    const at = text.indexOf("{");
    if (at < 0) return undefined;
    const padding = `"_padding":"${"x".repeat(fault.size_bytes ?? 12 * 1024 * 1024)}"${text[at + 1] === "}" ? "" : ","}`;
    return Buffer.from(`${text.slice(0, at + 1)}${padding}${text.slice(at + 1)}`);
  }
  // The first string value: the character after `":"` starts it.
  const at = text.indexOf('":"');
  if (at < 0) return undefined;
  const head = Buffer.from(text.slice(0, at + 3));
  const tail = Buffer.from(text.slice(at + 3));
  const bad = fault.kind === "invalid_escape" ? Buffer.from("\\q") : Buffer.from([0xff, 0xfe]);
  return Buffer.concat([head, bad, tail]);
}
