import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * A Standard Webhooks check written here from the spec, not with the library the gateway signs
 * with: HMAC-SHA256 over `id.timestamp.body` with the secret's bytes, any of the space-separated
 * `v1,` signatures matching.
 */
export function verify(secret: string, headers: Record<string, string | string[] | undefined>, body: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${headers["webhook-id"]}.${headers["webhook-timestamp"]}.${body}`).digest();
  return String(headers["webhook-signature"])
    .split(" ")
    .some((part) => {
      const [version, signature] = part.split(",");
      const given = Buffer.from(signature ?? "", "base64");
      return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
    });
}

export interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  event: { id: string; type: string; version: number | null; data: Record<string, any> };
}

/** A receiver on loopback that records what it is sent, answering `status` (changeable: down, then up). */
export async function receiver() {
  const received: Received[] = [];
  const state = { status: 200 };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      if (state.status < 300) received.push({ headers: req.headers, body, event: JSON.parse(body) });
      res.writeHead(state.status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    state,
    /** Delivered events by id: a receiver de-duplicates by webhook-id. */
    unique: () => new Map(received.map((r) => [r.event.id, r])),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export const until = async (check: () => Promise<boolean> | boolean, ms = 60_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await sleep(50);
  }
};

/** The record ids of the events of one type among those received, sorted. */
export function idsOf(received: Received[], type: string): string[] {
  return received
    .filter((r) => r.event.type === type)
    .map((r) => r.event.data.id as string)
    .sort();
}
