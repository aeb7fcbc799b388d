import jsonata from "jsonata";
import { compileToFunction } from "./compile.ts";

export { compileToFunction } from "./compile.ts";

/**
 * JSONata mappings: compiled once when an integration loads, evaluated per record.
 * Knows nothing of HTTP or databases; the caller names the file for error messages.
 */
export interface Mapping {
  /** Where the expression came from, e.g. `mappings/<slug>/users.jsonata`. */
  readonly source: string;
  /** True when the expression runs as a compiled function (see compile.ts). */
  readonly compiled: boolean;
  evaluate(input: unknown, bindings?: Record<string, unknown>): Promise<unknown>;
  /** The compiled form's answer, synchronously, or `INTERPRETER` when the interpreter must run. */
  quick(input: unknown): unknown;
}

/** What `Mapping.quick` answers when only the (asynchronous) interpreter can map the input. */
export const INTERPRETER: unique symbol = Symbol("interpreter");

/** A mapping that does not compile: names the file and the position of the syntax error. */
export class MappingSyntaxError extends Error {
  constructor(
    readonly source: string,
    readonly position: number | undefined,
    detail: string,
  ) {
    super(`${source}${position === undefined ? "" : ` at character ${position}`}: ${detail}`);
    this.name = "MappingSyntaxError";
  }
}

/** A mapping that threw while evaluating one record. */
export class MappingError extends Error {
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super(`${source}: ${detail}`);
    this.name = "MappingError";
  }
}

interface JsonataError {
  position?: number;
  message?: string;
  code?: string;
}

export function compileMapping(expression: string, source: string): Mapping {
  let compiled: ReturnType<typeof jsonata>;
  try {
    compiled = jsonata(expression);
  } catch (error) {
    const e = error as JsonataError;
    throw new MappingSyntaxError(source, e.position, e.message ?? String(error));
  }
  // The compiled form answers when it can; on anything it cannot do (or any error) the
  // interpreter runs the record, so outputs and error messages are always the interpreter's.
  const fast = compileToFunction(compiled.ast());
  return {
    source,
    compiled: fast !== undefined,
    quick(input) {
      if (!fast) return INTERPRETER;
      try {
        return fast(input);
      } catch {
        return INTERPRETER;
      }
    },
    async evaluate(input, bindings) {
      if (fast && bindings === undefined) {
        try {
          return fast(input);
        } catch {
          // fall through to the interpreter
        }
      }
      try {
        return await compiled.evaluate(input, bindings);
      } catch (error) {
        const e = error as JsonataError;
        throw new MappingError(source, `${e.code ? `${e.code} ` : ""}${e.message ?? String(error)}`);
      }
    },
  };
}

/**
 * Maps records one after another (never all at once: a page of records would otherwise hold
 * every intermediate result in memory together). `null`/`undefined` drops a record.
 */
export async function mapRecords(
  mapping: Mapping,
  records: unknown[],
  bindings?: Record<string, unknown>,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const record of records) {
    const pending = mapRecord(mapping, record, bindings);
    const mapped = pending instanceof Promise ? await pending : pending;
    if (mapped) out.push(mapped);
  }
  return out;
}

type Mapped = Record<string, unknown> | undefined;

/**
 * One record through a mapping: the object, or undefined when the mapping drops it. Synchronous
 * when the compiled form answers — a page of records then costs no promise per record — and a
 * promise only when the interpreter has to run.
 */
export function mapRecord(mapping: Mapping, record: unknown, bindings?: Record<string, unknown>): Mapped | Promise<Mapped> {
  const quick = bindings === undefined ? mapping.quick(record) : INTERPRETER;
  if (quick === INTERPRETER) return mapping.evaluate(record, bindings).then((value) => asRecord(mapping, value));
  return asRecord(mapping, quick);
}

function asRecord(mapping: Mapping, mapped: unknown): Mapped {
  if (mapped === null || mapped === undefined) return undefined;
  if (typeof mapped !== "object" || Array.isArray(mapped)) {
    throw new MappingError(mapping.source, `produced ${Array.isArray(mapped) ? "an array" : typeof mapped}, not an object`);
  }
  return mapped as Record<string, unknown>;
}
