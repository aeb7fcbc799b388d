import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { requireScope } from "../middleware/auth.ts";
import { commonErrors, json } from "../schemas.ts";
import type { AppEnv } from "../http/env.ts";
import type { Connections } from "../domain/connections/index.ts";

const KeyRingSchema = z
  .object({
    current_key_id: z.string().openapi({ description: "The key new and re-sealed credentials are encrypted with." }),
    keys: z.array(
      z.object({
        id: z.string(),
        current: z.boolean(),
        in_ring: z.boolean().openapi({
          description: "false: connections are sealed with a key this gateway no longer has; they cannot be opened.",
        }),
        connections: z.number().int().openapi({ description: "Connections whose credentials this key seals." }),
      }),
    ),
  })
  .openapi("KeyRing");

const RotationSchema = KeyRingSchema.extend({
  rotated: z.number().int().openapi({ description: "Connections re-sealed with the current key by this call." }),
}).openapi("KeyRotation");

const admin = [requireScope("admin")];

/**
 * The encryption key ring as the admin API sees it: which key seals how many connections, and
 * re-sealing them all with the current key. Key ids only; key material never leaves the gateway.
 */
export function registerEncryptionKeys(app: OpenAPIHono<AppEnv>) {
  app.openapi(
    createRoute({
      method: "get",
      path: "/encryption-keys",
      tags: ["Encryption keys"],
      summary: "List encryption keys: which key seals how many connections",
      middleware: admin,
      responses: { 200: json(KeyRingSchema, "The key ring's ids and their use"), ...commonErrors },
    }),
    async (c) => c.json(await keyRing(c.get("services").connections), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/encryption-keys/rotate",
      tags: ["Encryption keys"],
      summary: "Re-seal every credential with the current key",
      description:
        "Put the new key first in `UNIFOLD_ENCRYPTION_KEYS` on every instance (keeping the old one), restart them, then call this. " +
        "Safe to repeat and to run while the gateway serves; drop the old key once it seals no connection.",
      middleware: admin,
      responses: { 200: json(RotationSchema, "How many were re-sealed, and the ring afterwards"), ...commonErrors },
    }),
    async (c) => {
      const { connections } = c.get("services");
      const { rotated } = await connections.rotate();
      return c.json({ rotated, ...(await keyRing(connections)) }, 200);
    },
  );
}

async function keyRing(connections: Connections) {
  const usage = await connections.keyUsage();
  return {
    current_key_id: usage.find((key) => key.current)?.kid ?? "",
    keys: usage.map((key) => ({ id: key.kid, current: key.current, in_ring: key.inRing, connections: key.connections })),
  };
}
