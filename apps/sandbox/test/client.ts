import type { RunningSandbox, Vendor } from "../src/server.ts";

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** A plain HTTP call to one simulator as a tenant, with that vendor's auth header. */
export async function vendorCall(
  sandbox: RunningSandbox,
  vendor: Vendor,
  tenant: string,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; key?: string | null } = {},
): Promise<Reply> {
  const key = options.key === undefined ? sandbox.key(vendor, tenant) : options.key;
  const headers: Record<string, string> = { accept: "application/json", ...options.headers };
  if (key !== null) {
    if (vendor === "jumpcloud") headers["x-api-key"] ??= key;
    else if (vendor === "okta") headers.authorization ??= `SSWS ${key}`;
    else headers.authorization ??= `Bearer ${key}`;
  }
  if (options.body !== undefined)
    headers["content-type"] ??= vendor === "jumpcloud" || vendor === "okta" ? "application/json" : "application/scim+json";
  const response = await fetch(`${sandbox.baseUrl(vendor)}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, body, text };
}
