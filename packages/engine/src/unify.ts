import { mapRecord } from "@unifold/mapping";
import { conformerFor } from "./conform.ts";
import type { MappedIntegration, UnifiedResource } from "./definition.ts";
import { UpstreamShapeError } from "./calls.ts";

export interface Unified {
  /** One entry per upstream record: the unified object, or undefined where a mapping dropped it. */
  objects: (Record<string, unknown> | undefined)[];
  /** Fields whose vendor value the model refused (answered as null, [] or left out), by record id. */
  offModel: { field: string; record_id: string }[];
}

/**
 * Upstream records → unified objects: each record through the operation's JSONata file(s), their
 * outputs merged in order (a record any file maps to null is dropped), then held to the unified
 * model (conform.ts). A record the model cannot serve at all (no id) fails the whole answer:
 * an UpstreamShapeError naming the integration and resource, never an invented record.
 */
export async function unifyRecords(
  integration: MappedIntegration,
  resource: UnifiedResource,
  op: { response_mapping?: string[] | undefined },
  records: unknown[],
): Promise<Unified> {
  const mappings = (op.response_mapping ?? []).map((file) => integration.mappings.get(file)!);
  const conform = conformerFor(integration, resource);
  const objects: Unified["objects"] = [];
  const offModel: Unified["offModel"] = [];
  for (const record of records) {
    let merged: Record<string, unknown> | undefined = mappings.length ? undefined : {};
    for (let i = 0; i < mappings.length; i++) {
      const pending = mapRecord(mappings[i]!, record);
      const part = (pending instanceof Promise ? await pending : pending) as Record<string, unknown> | undefined;
      if (!part) {
        merged = undefined;
        break;
      }
      // One file's answer is read as it is: the model check below only reads it and builds its own
      // object, so no record is copied. Further files' fields go into a fresh object, as a mapping
      // may answer a piece of its input, which must stay untouched.
      merged = i === 0 ? part : i === 1 ? { ...merged, ...part } : Object.assign(merged!, part);
    }
    if (!merged) {
      objects.push(undefined);
      continue;
    }
    const { object, issues } = conform(merged);
    if (!object) {
      const what = issues.length ? `no valid ${issues.join(", ")}` : "not an object";
      throw new UpstreamShapeError(
        `${integration.slug} answered a ${resource.replace("_", " ")} record the unified model cannot serve: ${what}`,
      );
    }
    for (const field of new Set(issues)) offModel.push({ field, record_id: String(object.id ?? object.user_id) });
    objects.push(object);
  }
  return { objects, offModel };
}
