import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Company, Employee, Group, GroupMember, Organization, Role, User } from "../src/index.ts";

// docs/model.md explains the model in prose; the zod schemas are the authority. A field added
// to a schema without a line in the document fails here.
const doc = readFileSync(new URL("../../../docs/model.md", import.meta.url), "utf8");

/** The field names of the table under a heading that starts with `### <title>`. */
function documentedFields(title: string): string[] {
  const section = doc.split(/^### /m).find((part) => part.startsWith(title)) ?? "";
  return [...section.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]!);
}

describe("docs/model.md", () => {
  const models = { User, Group, GroupMember, Role, "Organization (": Organization } as const;
  for (const [title, schema] of Object.entries(models)) {
    it(`lists every field of ${title.replace(" (", "")}`, () => {
      expect(documentedFields(title).sort()).toEqual(Object.keys(schema.shape).sort());
    });
  }
  it("lists the fields an Employee adds to a User, and Company is an Organization", () => {
    const added = Object.keys(Employee.shape).filter((key) => !(key in User.shape));
    expect(documentedFields("Employee").sort()).toEqual(added.sort());
    expect(Object.keys(Company.shape)).toEqual(Object.keys(Organization.shape));
  });
});
