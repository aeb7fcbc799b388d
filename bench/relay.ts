// The floor under the proxy: one Node HTTP hop (node:http server, undici client) that relays a
// GET's bytes and does nothing else — no auth, no database, no cursor, no parsing. What the
// gateway adds beyond this relay is the gateway's own work; the rest is the hop itself.
// Usage: relay.ts <upstream origin>; prints one JSON line with its URL.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Pool } from "undici";

const upstream = new Pool(process.argv[2] as string, { connections: 64 });
const server = createServer((req, res) => {
  const headers: Record<string, string> = {};
  for (const name of ["authorization", "x-api-key"]) if (typeof req.headers[name] === "string") headers[name] = req.headers[name];
  upstream
    .request({ method: "GET", path: req.url ?? "/", headers })
    .then(async (answer) => {
      const body = Buffer.from(await answer.body.arrayBuffer());
      res.writeHead(answer.statusCode, { "content-type": String(answer.headers["content-type"] ?? "application/json") });
      res.end(body);
    })
    .catch(() => {
      res.writeHead(502);
      res.end();
    });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
});
