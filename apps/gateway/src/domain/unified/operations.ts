import type { Integration, OperationDefinition, UnifiedFilter, UnifiedResource, WriteKind } from "@unifold/engine";
import { unifyRecords } from "@unifold/engine";
import { Failure } from "../failure.ts";
import type { UnifiedParts } from "./parts.ts";

type OperationKind = "list" | "get" | WriteKind;
const named = (resource: UnifiedResource) => resource.replace("_", " ");
/** One record of a resource, for sentences ("needs emails to create a user") and titles ("Get a user"). */
export const oneOf: Record<UnifiedResource, string> = {
  users: "a user",
  me: "the current user",
  groups: "a group",
  group_members: "a group member",
  organizations: "an organization",
  roles: "a role",
  employees: "an employee",
  companies: "a company",
  hris_groups: "an HRIS group",
};

/** The integration's definition of one operation, or the contract's 404 / 405 naming what is missing. */
export function supportedOperation<K extends OperationKind>(integration: Integration, resource: UnifiedResource, kind: K) {
  const operations = Object.hasOwn(integration.resources, resource) ? integration.resources[resource] : undefined;
  if (!operations)
    throw new Failure("resource_not_supported", `${integration.name} (${integration.slug}) has no ${named(resource)} resource`);
  const op = operations[kind];
  if (!op) throw new Failure("method_not_allowed", `${integration.name} (${integration.slug}) cannot ${kind} ${named(resource)}`);
  return op as NonNullable<(typeof operations)[K]>;
}

/** Refuses a filter the operation cannot push upstream, naming the ones it can. */
export function checkFilters(
  integration: Integration,
  resource: UnifiedResource,
  op: OperationDefinition,
  filters: Record<string, string>,
) {
  for (const name of Object.keys(filters)) {
    if (op.filters.includes(name as UnifiedFilter)) continue;
    throw new Failure("filter_not_supported", `${integration.name} (${integration.slug}) cannot filter ${named(resource)} by ${name}`, {
      details: [{ path: name, message: op.filters.length ? `supported: ${op.filters.join(", ")}` : "no filters are supported here" }],
    });
  }
}

/** Refuses fields the vendor cannot set (naming field and vendor), missing required ones, and empty updates. */
export function checkFields(
  integration: Integration,
  resource: UnifiedResource,
  kind: WriteKind,
  op: { fields: string[]; required: string[] },
  data: Record<string, unknown> | undefined,
) {
  if (kind === "delete" || !data) return;
  const what = `${kind} ${oneOf[resource]}`;
  const refused = Object.keys(data).filter((field) => !op.fields.includes(field));
  if (refused.length) {
    throw new Failure(
      "invalid_request",
      `${integration.name} (${integration.slug}) cannot set ${refused.join(", ")} when asked to ${what}; it can set ${op.fields.join(", ")}`,
      { details: refused.map((field) => ({ path: field, message: `${integration.name} cannot set ${field}` })) },
    );
  }
  const missing = op.required.filter((field) => data[field] === undefined);
  if (kind === "create" && missing.length) {
    throw new Failure("invalid_request", `${integration.name} (${integration.slug}) needs ${missing.join(", ")} to ${what}`, {
      details: missing.map((field) => ({ path: field, message: "required" })),
    });
  }
  if (kind === "update" && Object.keys(data).length === 0) throw new Failure("invalid_request", "the update names no field to change");
}

/**
 * Upstream records in the unified model, one entry per record (undefined where a mapping drops
 * it), without `remote_data`. Off-model values (answered as null by the engine) are counted by
 * integration, resource and field, and logged once per page with the record ids, never the values.
 */
export async function unifyEach(
  parts: Pick<UnifiedParts, "metrics" | "logger">,
  integration: Integration,
  resource: UnifiedResource,
  op: { response_mapping?: string[] | undefined },
  records: unknown[],
) {
  const started = performance.now();
  const { objects, offModel } = await unifyRecords(integration, resource, op, records);
  parts.metrics.mappingSeconds.observe({ integration: integration.slug }, (performance.now() - started) / 1000);
  if (offModel.length) {
    for (const { field } of offModel) parts.metrics.offModelValues.inc({ integration: integration.slug, resource, field });
    parts.logger.warn(
      { integration: integration.slug, resource, off_model: offModel },
      "vendor values outside the unified model were answered as null",
    );
  }
  return objects;
}

/** `unifyEach` with dropped records left out and, when asked, each record's upstream form as `remote_data`. */
export async function unifyAll(
  parts: Pick<UnifiedParts, "metrics" | "logger">,
  integration: Integration,
  resource: UnifiedResource,
  op: { response_mapping?: string[] | undefined },
  records: unknown[],
  withRemote: boolean,
) {
  const out: Record<string, unknown>[] = [];
  for (const [i, merged] of (await unifyEach(parts, integration, resource, op, records)).entries()) {
    if (!merged) continue;
    if (withRemote) merged.remote_data = records[i];
    out.push(merged);
  }
  return out;
}
