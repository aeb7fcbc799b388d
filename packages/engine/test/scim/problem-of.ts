import { ScimProblem, type ScimType } from "../../src/index.ts";

/** The scimType a call is refused with, or "no problem": any other error is a bug and is thrown. */
export function problemOf(run: () => unknown): ScimType | "no problem" {
  try {
    run();
    return "no problem";
  } catch (error) {
    if (error instanceof ScimProblem) return error.scimType;
    throw error;
  }
}
