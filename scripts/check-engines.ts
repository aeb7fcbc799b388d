// Every installed package must accept every Node line this project supports, or a clean install
// on that line prints EBADENGINE warnings. Reads the lockfile, so it answers for Node 20, 22 and
// 24 at once, on whichever Node runs it. Usage: npm run check:engines
import { readFileSync } from "node:fs";
import semver from "semver";

const lock = JSON.parse(readFileSync(new URL("../package-lock.json", import.meta.url), "utf8")) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[]; optional?: boolean; os?: string[] }>;
};
const supported = (lock.packages[""]?.engines as { node?: string } | undefined)?.node;
if (!supported) throw new Error("package.json has no engines.node");
// The oldest release of each supported line, and the newest one tested here.
const lines = ["20.19.0", "20.20.2", "22.13.0", "22.21.0", "24.0.0", "24.21.0"].filter((v) => semver.satisfies(v, supported));

const problems: string[] = [];
for (const [path, entry] of Object.entries(lock.packages)) {
  const wanted = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
  if (!path || !wanted || (entry.os && !entry.os.includes(process.platform))) continue;
  for (const version of lines) {
    if (!semver.satisfies(version, wanted, { includePrerelease: true }))
      problems.push(`${path}@${entry.version}: node ${wanted} refuses ${version}`);
  }
}
if (problems.length) {
  console.error(`Packages that would print EBADENGINE on a supported Node (${supported}):\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(`every package accepts Node ${lines.join(", ")}`);
