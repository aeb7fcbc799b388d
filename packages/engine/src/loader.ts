import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { compileMapping, type Mapping, MappingSyntaxError } from "@unifold/mapping";
import { parse as parseYaml } from "yaml";
import type { ZodError } from "zod";
import { type Integration, integrationDefinition, type PushIntegration, pushIntegrationDefinition, writeKinds } from "./definition.ts";
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

/** Every `<dir>/<slug>/` folder, with its integration.yaml read; throws on the first broken file. */
function definitionFiles(dir: string): { slug: string; folder: string; shown: string; raw: unknown }[] {
  const found = [];
  for (const slug of readdirSync(dir).sort()) {
    const folder = join(dir, slug);
    if (!statSync(folder).isDirectory()) continue;
    if (!SLUG.test(slug)) throw new IntegrationLoadError(folder, "folder names are lower-case slugs (a-z, 0-9, -)");
    found.push({ slug, folder, ...readDefinition(folder) });
  }
  return found;
}

function readDefinition(folder: string): { shown: string; raw: unknown } {
  const file = join(folder, "integration.yaml");
  const shown = relative(process.cwd(), file) || file;
  try {
    return { shown, raw: parseYaml(readFileSync(file, "utf8"), { prettyErrors: true }) };
  } catch (error) {
    throw new IntegrationLoadError(shown, (error as Error).message);
  }
}

const pushes = (raw: unknown) => (raw as { direction?: unknown } | null)?.direction === "push";

/** Loads every integration the gateway reads through a vendor's API (`<dir>/<slug>/integration.yaml`). */
export function loadIntegrations(dir: string): Map<string, Integration> {
  const integrations = new Map<string, Integration>();
  for (const { slug, folder, raw } of definitionFiles(dir)) if (!pushes(raw)) integrations.set(slug, loadIntegration(folder, slug));
  return integrations;
}

/** Loads every integration whose directory pushes (`direction: push`). */
export function loadPushIntegrations(dir: string): Map<string, PushIntegration> {
  const integrations = new Map<string, PushIntegration>();
  for (const { slug, folder, shown, raw } of definitionFiles(dir)) {
    if (!pushes(raw)) continue;
    const parsed = pushIntegrationDefinition.safeParse(raw);
    if (!parsed.success) throw new IntegrationLoadError(shown, describe(parsed.error));
    const load = mappingLoader(folder, shown);
    for (const [resource, { mapping }] of Object.entries(parsed.data.resources))
      for (const file of mapping) load(file, `resources.${resource}`);
    integrations.set(slug, { ...parsed.data, slug, dir: folder, mappings: load.mappings });
  }
  return integrations;
}

/** Compiles each JSONata file a definition names, once; a missing file or a syntax error names itself. */
function mappingLoader(folder: string, shown: string) {
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
  return Object.assign(load, { mappings });
}

export function loadIntegration(folder: string, slug: string): Integration {
  const { shown, raw } = readDefinition(folder);
  const parsed = integrationDefinition.safeParse(raw);
  if (!parsed.success) throw new IntegrationLoadError(shown, describe(parsed.error));
  const definition = parsed.data;
  // Every auth placeholder must name a declared field, so a typo fails at start, not per call;
  // the headers may also name `{{token}}`, the access token, where the integration gets one.
  const { token, headers } = definition.auth;
  const checkTemplate = (template: string, tokenAllowed: boolean) => {
    for (const path of placeholders(template)) {
      if (path === "token" && tokenAllowed) continue;
      const [scope, name] = path.split(".");
      const declared = scope === "credentials" ? definition.credentials : scope === "config" ? definition.config : undefined;
      if (!declared || !name || !Object.hasOwn(declared, name)) {
        throw new IntegrationLoadError(shown, `auth template names {{${path}}}, which is not a declared credential or config field`);
      }
    }
  };
  for (const template of Object.values(headers)) checkTemplate(template, token !== undefined);
  for (const [key, value] of Object.entries(token ?? {})) if (key !== "grant" && key !== "client_auth") checkTemplate(value, false);
  // Every named JSONata file and pagination style must exist; each file compiles once, here.
  const load = mappingLoader(folder, shown);
  const { mappings } = load;
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
    const delta = operations?.delta;
    const where = `resources.${resource}.delta`;
    if (delta && "since_filter" in delta && !operations?.list?.filters.includes(delta.since_filter))
      throw new IntegrationLoadError(shown, `${where} reads changes by ${delta.since_filter}, which ${resource}.list cannot filter by`);
    if (delta && "path" in delta) {
      for (const file of delta.response_mapping) load(file, where);
      pagination(delta.pagination, where);
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
  const throttledBy = expression(definition.errors?.throttled, "errors.throttled");
  const accountOf = expression(definition.verify.account, "verify.account");
  return { ...definition, slug, dir: folder, mappings, errorMessage, throttledBy, accountOf };
}

function describe(error: ZodError): string {
  return error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; ");
}
