import { text } from "node:stream/consumers";
import { run } from "./cli.ts";

export async function main() {
  process.exitCode = await run(process.argv.slice(2), {
    env: process.env,
    out: (chunk) => process.stdout.write(chunk),
    err: (chunk) => process.stderr.write(chunk),
    stdin: () => text(process.stdin),
  });
}
