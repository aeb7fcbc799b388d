import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  GROUP_RESOURCE_TYPE,
  GROUP_SCHEMA_ID,
  USER_RESOURCE_TYPE,
  USER_SCHEMA_ID,
  ScimProblem,
  applyPatch,
  type ScimResource,
} from "../../src/index.ts";

// A reference model written on its own, as plainly as possible: a few named fields and what
// each operation does to them. applyPatch must agree with it on every random sequence.

class Refused extends Error {
  constructor(readonly scimType: string) {
    super(scimType);
  }
}

const spellings = (op: string) => fc.constantFrom(op, op[0]!.toUpperCase() + op.slice(1), op.toUpperCase());
const text = fc.constantFrom("x", "Y", "alice", "w@example.com");
const cleared = fc.constantFrom("", null);
const clears = (value: unknown) => value === "" || value === null;

// ---- users -----------------------------------------------------------------------------------

interface UserModel {
  userName: string;
  displayName?: string;
  active?: boolean;
  givenName?: string;
  familyName?: string;
  work?: string;
}

type Field = "userName" | "displayName" | "active" | "givenName" | "work";
const PATHS: Record<Field, string> = {
  userName: "userName",
  displayName: "displayName",
  active: "active",
  givenName: "name.givenName",
  work: 'emails[type eq "work"].value',
};

function setField(model: UserModel, field: Field, value: unknown): UserModel {
  const next = { ...model };
  if (clears(value)) {
    if (field === "userName") throw new Refused("mutability");
    delete next[field];
  } else if (field === "active") next.active = value === true || String(value).toLowerCase() === "true";
  else (next as Record<string, unknown>)[field] = value;
  return next;
}

type UserOperation = { op: string; path?: string; value?: unknown };

function referenceUser(model: UserModel, operation: UserOperation, fields: Field[]): UserModel {
  const op = operation.op.toLowerCase();
  if (operation.path === undefined)
    return Object.entries(operation.value as object).reduce((m, [key, value]) => setField(m, keyField(key), value), model);
  const field = fields[0]!;
  return setField(model, field, op === "remove" ? null : operation.value);
}

const keyField = (key: string) => (Object.entries(PATHS).find(([, path]) => path === key)?.[0] ?? key) as Field;

function renderUser(model: UserModel): ScimResource {
  const resource: ScimResource = { schemas: [USER_SCHEMA_ID], id: "u1", userName: model.userName };
  if (model.displayName !== undefined) resource.displayName = model.displayName;
  if (model.active !== undefined) resource.active = model.active;
  const name = {
    ...(model.givenName !== undefined && { givenName: model.givenName }),
    ...(model.familyName !== undefined && { familyName: model.familyName }),
  };
  if (Object.keys(name).length > 0) resource.name = name;
  resource.emails = [
    { value: "home@example.org", type: "home" },
    ...(model.work !== undefined ? [{ type: "work", value: model.work }] : []),
  ];
  return resource;
}

const userModel: fc.Arbitrary<UserModel> = fc.record(
  {
    userName: fc.constantFrom("bjensen", "Babs"),
    displayName: text,
    active: fc.boolean(),
    givenName: text,
    familyName: text,
    work: text,
  },
  { requiredKeys: ["userName"] },
);

const fieldValue = (field: Field) =>
  field === "active" ? fc.constantFrom<unknown>(true, false, "True", "False", "TRUE", "false", "", null) : fc.oneof(text, cleared);

const pathOperation = fc.constantFrom<Field>("userName", "displayName", "active", "givenName", "work").chain((field) =>
  fc.oneof(
    fc
      .tuple(fc.oneof(spellings("add"), spellings("replace")), fieldValue(field))
      .map(([op, value]) => ({ operation: { op, path: PATHS[field], value }, fields: [field] })),
    spellings("remove").map((op) => ({ operation: { op, path: PATHS[field] } as UserOperation, fields: [field] })),
    // Removing the whole work element is the same as clearing its value.
    ...(field === "work"
      ? [spellings("remove").map((op) => ({ operation: { op, path: 'emails[type eq "work"]' } as UserOperation, fields: [field] }))]
      : []),
  ),
);

const pathlessOperation = fc
  .tuple(
    fc.oneof(spellings("add"), spellings("replace")),
    fc.uniqueArray(fc.constantFrom<Field>("displayName", "active", "givenName", "work", "userName"), { minLength: 1, maxLength: 3 }),
  )
  .chain(([op, fields]) =>
    fc.tuple(...fields.map(fieldValue)).map((values) => ({
      operation: { op, value: Object.fromEntries(fields.map((field, i) => [PATHS[field], values[i]])) } as UserOperation,
      fields,
    })),
  );

// ---- groups ----------------------------------------------------------------------------------

interface GroupModel {
  displayName: string;
  members: string[];
}

const ids: fc.Arbitrary<string[]> = fc.uniqueArray(fc.constantFrom("u1", "u2", "u3", "u4", "u5"), { maxLength: 4 });
const asMembers = (list: string[], withRef: boolean) => list.map((value) => (withRef ? { $ref: null, value } : { value }));

type GroupOperation = { operation: { op: string; path?: string; value?: unknown }; apply: (model: GroupModel) => GroupModel };

const groupOperation: fc.Arbitrary<GroupOperation> = fc.oneof(
  fc
    .tuple(spellings("add"), fc.array(fc.constantFrom("u1", "u2", "u3", "u4", "u5"), { minLength: 1, maxLength: 3 }), fc.boolean())
    .map(([op, added, withRef]) => ({
      operation: { op, path: "members", value: asMembers(added, withRef) },
      apply: (m: GroupModel) => ({ ...m, members: added.reduce((list, id) => (list.includes(id) ? list : [...list, id]), m.members) }),
    })),
  fc.tuple(spellings("remove"), fc.constantFrom("u1", "u2", "u3", "u4", "u5")).map(([op, id]) => ({
    operation: { op, path: `members[value eq "${id}"]` },
    apply: (m: GroupModel) => ({ ...m, members: m.members.filter((member) => member !== id) }),
  })),
  fc.tuple(spellings("remove"), ids).map(([op, gone]) => ({
    operation: { op, path: "members", value: asMembers(gone, false) },
    apply: (m: GroupModel) => ({ ...m, members: gone.length === 0 ? m.members : m.members.filter((member) => !gone.includes(member)) }),
  })),
  spellings("remove").map((op) => ({ operation: { op, path: "members" }, apply: (m: GroupModel) => ({ ...m, members: [] }) })),
  fc.tuple(spellings("replace"), ids).map(([op, list]) => ({
    operation: { op, path: "members", value: asMembers(list, false) },
    apply: (m: GroupModel) => ({ ...m, members: list }),
  })),
  fc.tuple(spellings("replace"), fc.oneof(text, cleared)).map(([op, value]) => ({
    operation: { op, path: "displayName", value },
    apply: (m: GroupModel) => {
      if (clears(value)) throw new Refused("mutability");
      return { ...m, displayName: value as string };
    },
  })),
);

function renderGroup(model: GroupModel): ScimResource {
  return {
    schemas: [GROUP_SCHEMA_ID],
    id: "g1",
    displayName: model.displayName,
    ...(model.members.length > 0 && { members: asMembers(model.members, false) }),
  };
}

// ---- the properties --------------------------------------------------------------------------

/** Runs the model; returns the final state or the scimType it refuses with. */
function runModel<M>(initial: M, steps: ((model: M) => M)[]): M | Refused {
  try {
    return steps.reduce((model, step) => step(model), initial);
  } catch (error) {
    if (error instanceof Refused) return error;
    throw error;
  }
}

function expectAgreement(initial: ScimResource, result: ScimResource | Refused, run: () => { resource: ScimResource; changed: boolean }) {
  if (result instanceof Refused) {
    expect(run).toThrow(ScimProblem);
    expect(() => run()).toThrow(expect.objectContaining({ scimType: result.scimType }));
    return;
  }
  const { resource, changed } = run();
  expect(resource).toEqual(result);
  expect(changed).toBe(!isDeepStrictEqual(result, initial));
}

describe("PATCH against a reference model", () => {
  it("agrees on random sequences over userName, displayName, active, name.givenName and the work email", () => {
    fc.assert(
      fc.property(
        userModel,
        fc.array(fc.oneof({ weight: 4, arbitrary: pathOperation }, { weight: 1, arbitrary: pathlessOperation }), {
          minLength: 1,
          maxLength: 8,
        }),
        (model, steps) => {
          const initial = renderUser(model);
          const expected = runModel(
            model,
            steps.map(
              ({ operation, fields }) =>
                (m: UserModel) =>
                  referenceUser(m, operation, fields),
            ),
          );
          expectAgreement(initial, expected instanceof Refused ? expected : renderUser(expected), () =>
            applyPatch(
              initial,
              steps.map((step) => step.operation),
              USER_RESOURCE_TYPE,
            ),
          );
        },
      ),
      { numRuns: 600 },
    );
  });

  it("agrees on random sequences of member adds, removes (by filter and by value array) and replaces", () => {
    fc.assert(
      fc.property(
        fc.record({ displayName: text, members: ids }),
        fc.array(groupOperation, { minLength: 1, maxLength: 8 }),
        (model, steps) => {
          const initial = renderGroup(model);
          const expected = runModel(
            model,
            steps.map((step) => step.apply),
          );
          expectAgreement(initial, expected instanceof Refused ? expected : renderGroup(expected), () =>
            applyPatch(
              initial,
              steps.map((step) => step.operation),
              GROUP_RESOURCE_TYPE,
            ),
          );
        },
      ),
      { numRuns: 600 },
    );
  });

  it("applies a sequence in one request as it applies the operations one request at a time", () => {
    fc.assert(
      fc.property(userModel, fc.array(pathOperation, { minLength: 1, maxLength: 6 }), (model, steps) => {
        const operations = steps.map((step) => step.operation);
        let together: ScimResource | string;
        let apart: ScimResource | string = renderUser(model);
        try {
          together = applyPatch(renderUser(model), operations, USER_RESOURCE_TYPE).resource;
        } catch (error) {
          together = (error as ScimProblem).scimType;
        }
        try {
          for (const operation of operations) apart = applyPatch(apart as ScimResource, [operation], USER_RESOURCE_TYPE).resource;
        } catch (error) {
          apart = (error as ScimProblem).scimType;
        }
        expect(together).toEqual(apart);
      }),
      { numRuns: 300 },
    );
  });
});

describe("PATCH on arbitrary input", () => {
  const paths = fc.oneof(
    fc.string(),
    fc.constantFrom(
      "userName",
      "active",
      "name",
      "name.givenName",
      "emails",
      'emails[type eq "work"].value',
      'emails[type eq "work"]',
      "emails.type",
      "members",
      'members[value eq "u1"]',
      "displayName",
      "id",
      "meta.created",
      "groups",
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    ),
  );
  const operation = fc.record(
    { op: fc.oneof(fc.constantFrom("add", "Replace", "REMOVE"), fc.string()), path: paths, value: fc.jsonValue({ maxDepth: 3 }) },
    { requiredKeys: [] },
  );

  it("returns a result or throws a ScimProblem, and never touches its input", () => {
    const user = renderUser({ userName: "bjensen", givenName: "B", work: "w@example.com", active: true });
    const group = renderGroup({ displayName: "G", members: ["u1", "u2"] });
    fc.assert(
      fc.property(fc.array(fc.oneof(operation, fc.jsonValue({ maxDepth: 2 })), { maxLength: 5 }), (operations) => {
        for (const [resource, resourceType] of [
          [user, USER_RESOURCE_TYPE],
          [group, GROUP_RESOURCE_TYPE],
        ] as const) {
          const before = structuredClone(resource);
          try {
            const { resource: after } = applyPatch(resource, operations, resourceType);
            expect(JSON.parse(JSON.stringify(after))).toEqual(after);
          } catch (error) {
            if (!(error instanceof ScimProblem)) throw error;
          }
          expect(resource).toEqual(before);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
