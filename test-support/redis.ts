import { connect } from "node:net";

/**
 * The Redis the tests may use: REDIS_URL when it answers PING. Otherwise undefined, and the
 * caller skips its Redis variant with the reason printed (a machine without Redis still passes).
 */
export async function redisForTests(): Promise<{ url: string } | { skipped: string }> {
  const url = process.env.REDIS_URL;
  if (!url) return { skipped: "REDIS_URL is not set" };
  const { hostname, port } = new URL(url);
  const answered = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: hostname || "127.0.0.1", port: Number(port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (chunk) => done(chunk.toString().startsWith("+PONG")));
  });
  return answered ? { url } : { skipped: `no Redis answers at ${url}` };
}
