import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ENTERPRISE_USER_SCHEMA_ID,
  GROUP_RESOURCE_TYPE,
  USER_RESOURCE_TYPE,
  USER_SCHEMA_ID,
  ScimProblem,
  formatFilter,
  matchesFilter,
  matchesResolvedFilter,
  parseFilter,
  resolveFilter,
  parsePath,
  type AttributePath,
  type FilterNode,
  type ScimType,
} from "../../src/index.ts";
import { problemOf } from "./problem-of.ts";

const users = [
  {
    schemas: [USER_SCHEMA_ID, ENTERPRISE_USER_SCHEMA_ID],
    id: "a",
    userName: "bjensen",
    name: { familyName: "Jensen", givenName: "Barbara" },
    title: "Tour Guide",
    userType: "Employee",
    active: true,
    emails: [
      { value: "bjensen@example.com", type: "work", primary: true },
      { value: "babs@jensen.org", type: "home" },
    ],
    ims: [{ value: "someaimhandle", type: "aim" }],
    meta: { resourceType: "User", lastModified: "2011-05-13T04:42:34Z" },
    [ENTERPRISE_USER_SCHEMA_ID]: { employeeNumber: "701984", manager: { value: "m1" } },
  },
  {
    schemas: [USER_SCHEMA_ID],
    id: "b",
    userName: "JOMalley",
    externalId: "Ext-B",
    name: { familyName: "O'Malley", givenName: "Joe" },
    userType: "Intern",
    active: false,
    emails: [{ value: "joe@example.net", type: "home" }],
    ims: [{ value: "joe@foo.com", type: "xmpp" }],
    meta: { resourceType: "User", lastModified: "2011-05-13T06:42:35+02:00" },
  },
  {
    schemas: [USER_SCHEMA_ID],
    id: "c",
    userName: "jsmith",
    userType: "Employee",
    emails: [{ value: "js@example.net", type: "work" }],
    meta: { resourceType: "User", lastModified: "2011-05-13T04:42:33.5-00:00" },
  },
];

const matching = (filter: string) => users.filter((user) => matchesFilter(parseFilter(filter), user, USER_RESOURCE_TYPE)).map((u) => u.id);

describe("SCIM filters (RFC 7644 §3.4.2.2)", () => {
  // Every example filter of the section, with the sample users it selects.
  it.each([
    ['userName eq "bjensen"', ["a"]],
    [`name.familyName co "O'Malley"`, ["b"]],
    ['userName sw "J"', ["b", "c"]],
    ['urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"', ["b", "c"]],
    ["title pr", ["a"]],
    ['meta.lastModified gt "2011-05-13T04:42:34Z"', ["b"]],
    ['meta.lastModified ge "2011-05-13T04:42:34Z"', ["a", "b"]],
    ['meta.lastModified lt "2011-05-13T04:42:34Z"', ["c"]],
    ['meta.lastModified le "2011-05-13T04:42:34Z"', ["a", "c"]],
    ['title pr and userType eq "Employee"', ["a"]],
    ['title pr or userType eq "Intern"', ["a", "b"]],
    ['schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"', ["a"]],
    ['userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")', ["a"]],
    ['userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")', ["b"]],
    ['userType eq "Employee" and (emails.type eq "work")', ["a", "c"]],
    ['userType eq "Employee" and emails[type eq "work" and value co "@example.com"]', ["a"]],
    ['emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]', ["a", "b"]],
  ])("%s selects %j", (filter, ids) => {
    expect(matching(filter)).toEqual(ids);
  });

  it("parses the RFC's filters into a tree a SQL translator can walk", () => {
    expect(parseFilter('userType eq "Employee" and emails[type eq "work" and value co "@example.com"]')).toEqual({
      kind: "and",
      left: { kind: "compare", path: { name: "userType" }, op: "eq", value: "Employee" },
      right: {
        kind: "valuePath",
        path: { name: "emails" },
        filter: {
          kind: "and",
          left: { kind: "compare", path: { name: "type" }, op: "eq", value: "work" },
          right: { kind: "compare", path: { name: "value" }, op: "co", value: "@example.com" },
        },
      },
    });
    expect(parseFilter("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr")).toEqual({
      kind: "present",
      path: { urn: ENTERPRISE_USER_SCHEMA_ID, name: "manager", sub: "value" },
    });
  });

  it("binds and tighter than or, and honours parentheses", () => {
    expect(parseFilter("a eq 1 or b eq 2 and c eq 3")).toMatchObject({ kind: "or", right: { kind: "and" } });
    expect(parseFilter("(a eq 1 or b eq 2) and c eq 3")).toMatchObject({ kind: "and", left: { kind: "or" } });
  });

  it("reads operators, keywords and attribute names in any case", () => {
    expect(matching('USERNAME EQ "bjensen" AND Emails[TYPE Eq "work"] OR NOT (Title PR)')).toEqual(["a", "b", "c"]);
    expect(matching("active eq TRUE")).toEqual(["a"]);
  });

  it("compares userName case-insensitively (caseExact false) but externalId and id exactly", () => {
    expect(matching('userName eq "BJENSEN"')).toEqual(["a"]);
    expect(matching('externalId eq "ext-b"')).toEqual([]);
    expect(matching('externalId eq "Ext-B"')).toEqual(["b"]);
    expect(matching('id eq "A"')).toEqual([]);
  });

  it("compares dateTimes as instants, whatever their zone notation", () => {
    // b's 06:42:35+02:00 is 04:42:35Z: a string comparison would get both of these wrong.
    expect(matching('meta.lastModified lt "2011-05-13T05:00:00Z"')).toEqual(["a", "b", "c"]);
    expect(matching('meta.lastModified eq "2011-05-13T04:42:35.000Z"')).toEqual(["b"]);
  });

  it("compares booleans, and treats a missing boolean as not equal", () => {
    expect(matching("active eq false")).toEqual(["b"]);
    expect(matching("active ne true")).toEqual(["b", "c"]);
  });

  it("matches a multi-valued attribute when any of its values matches", () => {
    expect(matching('emails.value ew "example.net"')).toEqual(["b", "c"]);
    expect(matching('emails.type eq "home"')).toEqual(["a", "b"]);
    expect(matching('emails.type ne "home"')).toEqual(["c"]);
  });

  it("takes null as unassigned and pr as assigned", () => {
    expect(matching("title eq null")).toEqual(["b", "c"]);
    expect(matching("title ne null")).toEqual(["a"]);
    expect(matching("name pr")).toEqual(["a", "b"]);
  });

  it("reaches enterprise attributes with and without their schema URN", () => {
    expect(matching(`${ENTERPRISE_USER_SCHEMA_ID}:employeeNumber eq "701984"`)).toEqual(["a"]);
    expect(matching('employeeNumber eq "701984"')).toEqual(["a"]);
    expect(matching(`${ENTERPRISE_USER_SCHEMA_ID}:manager.value eq "m1"`)).toEqual(["a"]);
  });

  it("reads strings with JSON escapes and numbers", () => {
    expect(parseFilter('displayName eq "a\\"b\\\\c\\u00e9"')).toMatchObject({ value: 'a"b\\cé' });
    expect(parseFilter("x eq -1.5e3")).toMatchObject({ value: -1500 });
  });

  it("resolves a filter for a SQL translator: canonical names, where they are stored, type and caseExact", () => {
    const resolved = resolveFilter(
      parseFilter('USERNAME eq "J" and EMAILS co "@x" and employeeNumber pr and emails[TYPE eq "work"]'),
      USER_RESOURCE_TYPE,
    );
    const leaves: unknown[] = [];
    const walk = (node: ReturnType<typeof resolveFilter>): void => {
      if (node.kind === "and" || node.kind === "or") [node.left, node.right].forEach(walk);
      else if (node.kind === "not") walk(node.filter);
      else if (node.kind === "valuePath") {
        leaves.push({ valuePath: node.path.attribute.name });
        walk(node.filter);
      } else
        leaves.push({
          schema: node.path.schema,
          extension: node.path.extension,
          name: node.path.attribute.name,
          sub: node.path.sub?.name,
          caseExact: (node.path.sub ?? node.path.attribute).caseExact,
        });
    };
    walk(resolved);
    expect(leaves).toEqual([
      { schema: USER_SCHEMA_ID, extension: false, name: "userName", sub: undefined, caseExact: false },
      { schema: USER_SCHEMA_ID, extension: false, name: "emails", sub: "value", caseExact: false },
      { schema: ENTERPRISE_USER_SCHEMA_ID, extension: true, name: "employeeNumber", sub: undefined, caseExact: false },
      { valuePath: "emails" },
      { schema: USER_SCHEMA_ID, extension: false, name: "emails", sub: "type", caseExact: false },
    ]);
    expect(users.filter((user) => matchesResolvedFilter(resolved, user)).map((u) => u.id)).toEqual([]);
    const byWork = resolveFilter(parseFilter('emails[type eq "work"]'), USER_RESOURCE_TYPE);
    expect(users.filter((user) => matchesResolvedFilter(byWork, user)).map((u) => u.id)).toEqual(["a", "c"]);
  });

  describe("what Okta and Entra filter on", () => {
    it("finds a user by userName whatever case Okta sends (Okta may change a login's case)", () => {
      expect(matching('userName eq "JSmith"')).toEqual(["c"]);
    });

    it('finds a user by Entra\'s matching attribute emails[type eq "work"].value', () => {
      expect(matching('emails[type eq "work"].value eq "BJENSEN@example.com"')).toEqual(["a"]);
      expect(matching('emails[type eq "work"].value eq "joe@example.net"')).toEqual([]);
    });

    it("finds a group by displayName (Entra's GET /Groups?filter=displayName eq …)", () => {
      const group = { id: "g", displayName: "Sales Team", members: [{ value: "a" }] };
      expect(matchesFilter(parseFilter('displayName eq "sales team"'), group, GROUP_RESOURCE_TYPE)).toBe(true);
      expect(matchesFilter(parseFilter('members[value eq "a"]'), group, GROUP_RESOURCE_TYPE)).toBe(true);
      expect(matchesFilter(parseFilter('members.value eq "A"'), group, GROUP_RESOURCE_TYPE)).toBe(false);
    });
  });

  describe("refusals", () => {
    it.each([
      [""],
      ["   "],
      ["userName"],
      ["userName eq"],
      ['userName eq "unterminated'],
      ['userName eq "bad \\q escape"'],
      ['userName xx "a"'],
      ['userName eq "a" and'],
      ['(userName eq "a"'],
      ['userName eq "a")'],
      ['userName eq "a" userName eq "b"'],
      ['not userName eq "a"'],
      ['emails[type eq "work"'],
      ['emails[type[value eq "x"] eq "y"]'],
      ['emails[urn:x:y:type eq "work"]'],
      ['name.familyName[value eq "x"]'],
      ["active gt true"],
      ["title lt null"],
      ["userName co 1"],
      ["a.b.c eq 1"],
      ["x:y eq 1"],
      ["userName eq 'single'"],
      ["userName eq 01"],
      ['userName eq "a" ; drop table users'],
      ["(".repeat(200) + "a eq 1" + ")".repeat(200)],
    ])("refuses %j as invalidFilter", (filter) => {
      expect(problemOf(() => parseFilter(filter))).toBe("invalidFilter");
    });

    it.each([
      ['bogus eq "x"'],
      ['name.bogus eq "x"'],
      ['urn:ietf:params:scim:schemas:extension:other:1.0:User:x eq "x"'],
      ['name eq "x"'],
      ["active gt 1"],
      ['active co "t"'],
      ['meta.lastModified gt "yesterday"'],
      ['emails[bogus eq "x"]'],
      ['userName[value eq "x"]'],
      ['x509Certificates.value gt "a"'],
    ])("refuses %j against the User schema as invalidFilter", (filter) => {
      expect(problemOf(() => matchesFilter(parseFilter(filter), users[0], USER_RESOURCE_TYPE))).toBe("invalidFilter");
    });

    it("refuses to filter on the password, which is never returned", () => {
      expect(problemOf(() => matchesFilter(parseFilter('password sw "a"'), users[0], USER_RESOURCE_TYPE))).toBe("invalidFilter");
    });

    it("refuses a filter longer than any client sends, rather than exhausting the stack", () => {
      expect(problemOf(() => parseFilter('userName eq "a" and '.repeat(5000) + "title pr"))).toBe("invalidFilter");
      expect(problemOf(() => parsePath(`emails[${'type eq "a" and '.repeat(5000)}value pr]`))).toBe("invalidPath");
    });

    it("refuses a bad combination even when the attribute is missing from the resource", () => {
      expect(problemOf(() => matchesFilter(parseFilter("active gt 1"), {}, USER_RESOURCE_TYPE))).toBe("invalidFilter");
    });
  });

  it("reads back every filter it writes (formatFilter, then parseFilter)", () => {
    const name = fc.constantFrom("userName", "emails", "x-y_1", "$ref", "not", "and");
    const outerPath: fc.Arbitrary<AttributePath> = fc.record(
      { urn: fc.constantFrom(USER_SCHEMA_ID, ENTERPRISE_USER_SCHEMA_ID), name, sub: name },
      { requiredKeys: ["name"] },
    );
    const innerPath: fc.Arbitrary<AttributePath> = fc.record({ name });
    const leaf = (path: fc.Arbitrary<AttributePath>): fc.Arbitrary<FilterNode> =>
      fc.oneof(
        path.map((p) => ({ kind: "present" as const, path: p })),
        fc
          .tuple(path, fc.constantFrom("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le" as const))
          .chain(([p, op]) =>
            (["co", "sw", "ew"].includes(op)
              ? fc.string({ unit: "binary" })
              : ["gt", "ge", "lt", "le"].includes(op)
                ? fc.oneof(fc.string(), fc.integer())
                : fc.oneof(fc.string({ unit: "binary" }), fc.integer(), fc.boolean(), fc.constant(null))
            ).map((value) => ({ kind: "compare" as const, path: p, op, value })),
          ),
      );
    const tree = (path: fc.Arbitrary<AttributePath>, valuePaths: boolean): fc.Arbitrary<FilterNode> =>
      fc.letrec<{ node: FilterNode }>((tie) => ({
        node: fc.oneof(
          { depthSize: "small", withCrossShrink: true },
          leaf(path),
          ...(valuePaths ? [fc.tuple(name, inner).map(([n, filter]) => ({ kind: "valuePath" as const, path: { name: n }, filter }))] : []),
          fc
            .tuple(fc.constantFrom("and" as const, "or" as const), tie("node"), tie("node"))
            .map(([kind, left, right]) => ({ kind, left, right })),
          tie("node").map((filter) => ({ kind: "not" as const, filter })),
        ),
      })).node;
    const inner: fc.Arbitrary<FilterNode> = tree(innerPath, false);
    fc.assert(
      fc.property(tree(outerPath, true), (node) => {
        expect(parseFilter(formatFilter(node))).toEqual(node);
      }),
      { numRuns: 1000 },
    );
  });

  describe("never crashes", () => {
    const soup = fc
      .array(
        fc.constantFrom(
          "(",
          ")",
          "[",
          "]",
          " ",
          "and",
          "or",
          "not",
          "eq",
          "ne",
          "co",
          "gt",
          "pr",
          '"x"',
          '"',
          "\\",
          "userName",
          "emails",
          "emails.value",
          "name.givenName",
          "type",
          ".value",
          "urn:ietf:params:scim:schemas:core:2.0:User:",
          "1",
          "-",
          "1e9",
          "true",
          "null",
          "active",
          "meta.lastModified",
          '"2011-05-13T04:42:34Z"',
        ),
        { maxLength: 14 },
      )
      .map((parts) => parts.join(" "));

    const onlyProblems = (run: () => unknown, expected: ScimType[]) => {
      try {
        run();
      } catch (error) {
        if (!(error instanceof ScimProblem)) throw error;
        expect(expected).toContain(error.scimType);
        expect(error.detail.length).toBeGreaterThan(0);
      }
    };

    it("parseFilter on any string returns a tree or throws an invalidFilter ScimProblem", () => {
      fc.assert(
        fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" }), soup), (text) => {
          onlyProblems(() => {
            const node = parseFilter(text);
            for (const user of users) matchesFilter(node, user, USER_RESOURCE_TYPE);
          }, ["invalidFilter"]);
        }),
        { numRuns: 3000 },
      );
    });

    it("parsePath on any string returns a path or throws an invalidPath ScimProblem", () => {
      fc.assert(
        fc.property(fc.oneof(fc.string(), soup), (text) => onlyProblems(() => parsePath(text), ["invalidPath"])),
        { numRuns: 2000 },
      );
    });
  });
});

describe("PATCH paths (RFC 7644 §3.5.2)", () => {
  it("reads an attribute, a sub-attribute, a value filter and a sub-attribute after the filter", () => {
    expect(parsePath("userName")).toEqual({ attribute: { name: "userName" } });
    expect(parsePath("name.familyName")).toEqual({ attribute: { name: "name", sub: "familyName" } });
    expect(parsePath('members[value eq "2819c223"]')).toEqual({
      attribute: { name: "members" },
      filter: { kind: "compare", path: { name: "value" }, op: "eq", value: "2819c223" },
    });
    expect(parsePath('addresses[type eq "work"].streetAddress')).toMatchObject({ attribute: { name: "addresses" }, sub: "streetAddress" });
    expect(parsePath(`${ENTERPRISE_USER_SCHEMA_ID}:manager`)).toEqual({ attribute: { urn: ENTERPRISE_USER_SCHEMA_ID, name: "manager" } });
  });

  it.each([
    ["emails["],
    ['emails[type eq "work"]x'],
    ['emails[type eq "work"].'],
    ["a b"],
    ['emails[type eq "work"].value.x'],
    ["name.a.b"],
    ["[x]"],
  ])("refuses %j as invalidPath", (path) => {
    expect(problemOf(() => parsePath(path))).toBe("invalidPath");
  });
});
