import type { HttpBindings } from "@hono/node-server";
import type { Context } from "hono";
import type { AppEnv } from "./env.ts";

/**
 * Where customers' browsers and identity providers reach this gateway, for the links it makes: UNIFOLD_PUBLIC_URL;
 * else, behind a trusted proxy, the address it forwarded; else the address this request
 * arrived on. Never the Host header alone: a client chooses it.
 */
export function publicOrigin(c: Context<AppEnv>): string {
  const { publicUrl, trustProxy } = c.get("services").connect.settings;
  if (publicUrl) return publicUrl;
  if (trustProxy) {
    const proto = firstOf(c.req.header("x-forwarded-proto"));
    const host = firstOf(c.req.header("x-forwarded-host")) ?? c.req.header("host");
    if ((proto === "http" || proto === "https") && host && HOST.test(host)) return `${proto}://${host}`;
  }
  const socket = (c.env as HttpBindings | undefined)?.incoming?.socket;
  if (!socket?.localAddress) return new URL(c.req.url).origin;
  const address = socket.localAddress.replace(/^::ffff:/, "");
  return `http://${address.includes(":") ? `[${address}]` : address}:${socket.localPort}`;
}

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;
const firstOf = (header: string | undefined) => header?.split(",")[0]?.trim() || undefined;
