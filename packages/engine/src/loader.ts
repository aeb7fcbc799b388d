import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { parse as parseYaml } from "yaml";
import type { ZodError } from "zod";
import { type Integration, integrationDefinition } from "./definition.ts";
import { placeholders } from "./template.ts";

/** A mapping folder that cannot be loaded; the message names the file and what is wrong. */
export class IntegrationLoadError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = "IntegrationLoadError";
  }
}

const SLUG = /^[a-z][a-z0-9-]*$/;

/** Loads every `<dir>/<slug>/integration.yaml`; throws on the first broken file. */
export function loadIntegrations(dir: string): Map<string, Integration> {
  const integrations = new Map<string, Integration>();
  for (const slug of readdirSync(dir).sort()) {
    const folder = join(dir, slug);
    if (!statSync(folder).isDirectory()) continue;
    if (!SLUG.test(slug)) throw new IntegrationLoadError(folder, "folder names are lower-case slugs (a-z, 0-9, -)");
    integrations.set(slug, loadIntegration(folder, slug));
  }
  return integrations;
}

export function loadIntegration(folder: string, slug: string): Integration {
  const file = join(folder, "integration.yaml");
  const shown = relative(process.cwd(), file) || file;
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, "utf8"), { prettyErrors: true });
  } catch (error) {
    throw new IntegrationLoadError(shown, (error as Error).message);
  }
  const parsed = integrationDefinition.safeParse(raw);
  if (!parsed.success) throw new IntegrationLoadError(shown, describe(parsed.error));
  const definition = parsed.data;
  // Every auth placeholder must name a declared field, so a typo fails at start, not per call.
  for (const template of Object.values(definition.auth.headers)) {
    for (const path of placeholders(template)) {
      const [scope, name] = path.split(".");
      const declared = scope === "credentials" ? definition.credentials : scope === "config" ? definition.config : undefined;
      if (!declared || !name || !Object.hasOwn(declared, name)) {
        throw new IntegrationLoadError(shown, `auth header template names {{${path}}}, which is not a declared credential or config field`);
      }
    }
  }
  return { ...definition, slug, dir: folder };
}

function describe(error: ZodError): string {
  return error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; ");
}
