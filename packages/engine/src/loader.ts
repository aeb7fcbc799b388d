import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { compileMapping, type Mapping, MappingSyntaxError } from "@unifold/mapping";
import { parse as parseYaml } from "yaml";
import type { ZodError } from "zod";
import { type Integration, integrationDefinition, writeKinds } from "./definition.ts";
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
  // Every named JSONata file and pagination style must exist; each file compiles once, here.
  const mappings = new Map<string, Mapping>();
  const load = (name: string, where: string) => {
    if (mappings.has(name)) return;
    const path = join(folder, name);
    if (!existsSync(path)) throw new IntegrationLoadError(shown, `${where} names ${name}, which does not exist in ${folder}`);
    try {
      mappings.set(name, compileMapping(readFileSync(path, "utf8"), relative(process.cwd(), path) || path));
    } catch (error) {
      if (error instanceof MappingSyntaxError)
        throw new IntegrationLoadError(
          error.source,
          `JSONata syntax error${error.position === undefined ? "" : ` at character ${error.position}`}: ${error.message.split(": ").slice(1).join(": ")}`,
        );
      throw error;
    }
  };
  const pagination = (name: string | undefined, where: string) => {
    if (name !== undefined && !Object.hasOwn(definition.pagination, name))
      throw new IntegrationLoadError(shown, `${where} uses pagination "${name}", which is not declared`);
  };
  for (const [resource, operations] of Object.entries(definition.resources)) {
    for (const kind of ["list", "get"] as const) {
      const op = operations?.[kind];
      if (!op) continue;
      const where = `resources.${resource}.${kind}`;
      for (const file of op.response_mapping) load(file, where);
      if (op.query_mapping) load(op.query_mapping, where);
      pagination(op.pagination, where);
    }
    for (const kind of writeKinds) {
      const op = operations?.[kind];
      if (!op) continue;
      const where = `resources.${resource}.${kind}`;
      load(op.request_mapping, where);
      for (const file of op.response_mapping ?? []) load(file, where);
      if (op.refetch && !operations?.get) throw new IntegrationLoadError(shown, `${where} sets refetch but ${resource} has no get`);
    }
  }
  for (const [name, proxy] of Object.entries(definition.proxy)) pagination(proxy.pagination, `proxy.${name}`);
  const expression = (source: string | undefined, where: string) => {
    if (source === undefined) return undefined;
    try {
      return compileMapping(source, `${shown} ${where}`);
    } catch (error) {
      throw new IntegrationLoadError(shown, (error as Error).message);
    }
  };
  const errorMessage = expression(definition.errors?.message, "errors.message");
  const accountOf = expression(definition.verify.account, "verify.account");
  return { ...definition, slug, dir: folder, mappings, errorMessage, accountOf };
}

function describe(error: ZodError): string {
  return error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; ");
}
