/** The `scimType` keywords of RFC 7644 §3.12 that a request can earn. */
export type ScimType =
  "invalidFilter" | "invalidPath" | "invalidValue" | "noTarget" | "mutability" | "invalidSyntax" | "uniqueness" | "tooMany";

/**
 * A request the SCIM core refuses, as RFC 7644 §3.12 describes it: the service layer turns it
 * into `{"schemas":[…Error],"scimType","detail","status"}` without knowing where it came from.
 */
export class ScimProblem extends Error {
  readonly status: number;
  constructor(
    readonly scimType: ScimType,
    readonly detail: string,
  ) {
    super(detail);
    this.name = "ScimProblem";
    // RFC 7644 §3.12: uniqueness is a 409 conflict, every other keyword a 400.
    this.status = scimType === "uniqueness" ? 409 : 400;
  }
}
