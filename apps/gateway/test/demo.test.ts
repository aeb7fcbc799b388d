import { execFile } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { root, startDemo } from "./demo-process.ts";
import { vendors } from "./harness.ts";

// The README's first minute: `npm run demo`, then paste what it prints.
describe("npm run demo", () => {
  it("prints curl lines that answer unified users from each integration, and Ctrl-C stops it cleanly", { timeout: 90_000 }, async () => {
    const demo = await startDemo();
    const { port, sandboxPort, webhookPort } = demo.ports;
    try {
      const printed = () => demo.printed();
      // Shell lines as printed, with a trailing backslash continuing onto the next one.
      const lines = printed().replace(/\\\n/g, " ").split("\n");
      const curls = lines.filter((line) => line.startsWith("curl "));
      expect(curls.length).toBeGreaterThanOrEqual(7);
      const answers = [];
      for (const line of curls) {
        const { stdout } = await promisify(execFile)("bash", ["-c", `${line} -w '\\n%{http_code}'`]);
        const status = Number(stdout.slice(stdout.lastIndexOf("\n") + 1));
        answers.push({ line, status, body: JSON.parse(stdout.slice(0, stdout.lastIndexOf("\n"))) });
      }
      for (const answer of answers) expect(answer.status, answer.line).toBeLessThan(300);

      const users = answers.filter((answer) => answer.line.includes("/unified/user-directory/users?") && !answer.line.includes("-X POST"));
      // One line per pulled integration, and one for acme's directory that a simulated Okta pushed.
      expect(users).toHaveLength(Object.keys(vendors).length + 1);
      for (const { body } of users) {
        expect(body.result).toHaveLength(3);
        expect(body.result[0]).toMatchObject({ id: expect.any(String), username: expect.any(String), status: expect.any(String) });
      }
      expect(answers.find((answer) => answer.line.includes("-X POST"))?.status).toBe(201);

      // The events line, pasted after the change and the sync run above it, shows that change.
      const eventsLine = curls.find((line) => line.includes("/events?"))!;
      let types: string[] = [];
      for (let waited = 0; !types.includes("user.deleted") && waited < 20_000; waited += 250) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        const { stdout } = await promisify(execFile)("bash", ["-c", eventsLine]);
        types = (JSON.parse(stdout) as { result: { type: string }[] }).result.map((event) => event.type);
      }
      expect(types.filter((type) => type.startsWith("user.")).sort()).toEqual([
        "user.created",
        "user.deactivated",
        "user.deleted",
        "user.updated",
      ]);
      // Its webhook receiver is on the port asked for, and printed the same change.
      for (let waited = 0; !printed().includes("webhook: user.deleted") && waited < 20_000; waited += 100)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(printed()).toMatch(/webhook: user\.deleted .*signature verified/);

      // Every line that needs the export line comes after it.
      const exportAt = lines.findIndex((line) => line.startsWith("export UNIFOLD_URL="));
      expect(exportAt).toBeGreaterThan(0);
      expect(lines.findIndex((line) => line.includes("npx unifold"))).toBeGreaterThan(exportAt);

      // The connect link it prints opens the hosted page.
      const connectUrl = lines.find((line) => line.includes("/connect/ucs_"));
      const page = await fetch(connectUrl as string);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("Choose the service to connect");

      // The CLI lines it prints work too.
      const exportLine = lines.find((line) => line.startsWith("export UNIFOLD_URL="));
      const { stdout: listed } = await promisify(execFile)("bash", ["-c", `${exportLine} && npx unifold connections list`], { cwd: root });
      expect(listed.match(/ acme /g)).toHaveLength(Object.keys(vendors).length + 1);
      // The pushed directory's events reached the webhook receiver, signed.
      expect(printed()).toMatch(/webhook: user\.created ada@acme\.example\.com .*signature verified/);
      expect(printed()).toMatch(/webhook: user\.deactivated linus@acme\.example\.com/);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
    // Both ports are free again: the gateway and the sandbox were stopped, not orphaned.
    for (const used of [port, sandboxPort, webhookPort]) {
      const again = createServer().listen(used, "127.0.0.1");
      await once(again, "listening");
      await new Promise((resolve) => again.close(resolve));
    }
  });
});
