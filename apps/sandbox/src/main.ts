import { startSandbox } from "./server.ts";

// `npm run sandbox`: the simulators on one port, with their base URLs and keys.
const port = Number(process.env.SANDBOX_PORT ?? 4010);
const users = Number(process.env.SANDBOX_USERS ?? 60);
const sandbox = await startSandbox({
  port,
  seed: process.env.SANDBOX_SEED ?? "unifold",
  tenants: [
    { name: "acme", users },
    { name: "globex", users: Math.max(12, Math.floor(users / 2)) },
  ],
}).catch((error: NodeJS.ErrnoException) => {
  const why = error.code === "EADDRINUSE" ? `port ${port} is in use (set SANDBOX_PORT)` : error.message;
  process.stderr.write(`unifold sandbox: cannot start: ${why}\n`);
  process.exit(1);
});
const info = sandbox.info(sandbox.url);
process.stdout.write(`Unifold sandbox on ${sandbox.url} (control API: ${sandbox.url}/_sandbox)\n\n`);
for (const [vendor, v] of Object.entries(info.vendors)) {
  process.stdout.write(`${vendor.padEnd(10)} ${v.base_url}\n`);
  if ("keys" in v) for (const [tenant, key] of Object.entries(v.keys)) process.stdout.write(`           ${tenant.padEnd(8)} ${key}\n`);
  if ("service_accounts" in v)
    for (const [tenant, account] of Object.entries(v.service_accounts))
      process.stdout.write(
        `           ${tenant.padEnd(8)} service account ${account.client_email} acting for ${account.subject} (token URL ${v.token_url}; key: GET /_sandbox)\n`,
      );
}
process.stdout.write(
  `\njumpcloud MSP key ${info.vendors.jumpcloud.msp.key} (send x-org-id: ${JSON.stringify(info.vendors.jumpcloud.msp.org_ids)})\n`,
);
process.on("SIGTERM", () => sandbox.close().then(() => process.exit(0)));
process.on("SIGINT", () => sandbox.close().then(() => process.exit(0)));
