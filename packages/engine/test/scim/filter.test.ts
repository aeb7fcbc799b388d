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
  parseAttributePath,
  parseFilter,
  resolveFilter,
  parsePath,
  type AttributeDefinition,
  type AttributePath,
  type FilterNode,
  type ScimResourceType,
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

/** The detail a client reads in the 400 answer, or "no problem". */
const detailOf = (run: () => unknown): string => {
  try {
    run();
    return "no problem";
  } catch (error) {
    if (error instanceof ScimProblem) return error.detail;
    throw error;
  }
};
const userFilter = (filter: string) => () => matchesFilter(parseFilter(filter), users[0], USER_RESOURCE_TYPE);
const selects = (filter: string, resource: unknown, resourceType: ScimResourceType = USER_RESOURCE_TYPE) =>
  matchesFilter(parseFilter(filter), resource, resourceType);

describe("what a client is told about a filter or path it cannot use", () => {
  it.each([
    ["", "the filter is empty"],
    ["   ", "the filter is empty"],
    ['userName eq "open', `an unterminated or badly escaped string at position 13`],
    [".value eq 1", "an unexpected character '.' at position 1"],
    ['emails[type eq "work"].1 eq "x"', "a sub-attribute name must follow '.' at position 23"],
    ["title eq -x", "a malformed number at position 10"],
    ['userName eq "a" ; x', "an unexpected character ';' at position 17"],
    ['(userName eq "a"', `expected ')' at the end of '(userName eq "a"'`],
    ['not (userName eq "a" title pr', `expected ')' at position 22 of 'not (userName eq "a" title pr'`],
    ['userName eq "a" and', `expected an attribute path at the end of 'userName eq "a" and'`],
    ['emails[type.x eq "work"]', `inside [ ] only sub-attribute names may be used at position 8 of 'emails[type.x eq "work"]'`],
    ['emails[urn:x:y:type eq "w"]', `inside [ ] only sub-attribute names may be used at position 8 of 'emails[urn:x:y:type eq "w"]'`],
    ['emails[type[value eq "x"] eq "y"]', `a value filter cannot nest another at position 12 of 'emails[type[value eq "x"] eq "y"]'`],
    [
      'name.familyName[value eq "x"]',
      `a value filter applies to an attribute, not a sub-attribute at position 1 of 'name.familyName[value eq "x"]'`,
    ],
    ['emails[type eq "work" title pr', `expected ']' at position 23 of 'emails[type eq "work" title pr'`],
    ['userName xx "a"', `expected an operator (eq ne co sw ew gt ge lt le pr) at position 10 of 'userName xx "a"'`],
    ["userName eq", `expected a value (a string, number, true, false or null) at the end of 'userName eq'`],
    ["active gt true", "'gt' cannot compare with true at position 11 of 'active gt true'"],
    ["active ge false", "'ge' cannot compare with false at position 11 of 'active ge false'"],
    ["title lt null", "'lt' cannot compare with null at position 10 of 'title lt null'"],
    ["title le null", "'le' cannot compare with null at position 10 of 'title le null'"],
    ["userName co 1", "'co' needs a string value at position 13 of 'userName co 1'"],
    ["userName sw 1", "'sw' needs a string value at position 13 of 'userName sw 1'"],
    ["userName ew true", "'ew' needs a string value at position 13 of 'userName ew true'"],
    ['userName eq "a")', `unexpected input at position 16 of 'userName eq "a")'`],
    ["a.b.c eq 1", "'a.b.c' is not an attribute path (expected name or name.subAttribute)"],
    ["x:y eq 1", "'x:y' is not an attribute path: only a schema URN may precede ':'"],
  ])("%j: %s", (filter, detail) => {
    expect(detailOf(() => parseFilter(filter))).toBe(detail);
  });

  it("names only the start of a filter too long to read", () => {
    const long = `userName eq "${"a".repeat(5000)}"`;
    expect(detailOf(() => parseFilter(long))).toBe(`'userName eq "aaaaaaaaaaaaaaaaaaaaaaaaaaa…' is longer than 4096 characters`);
  });

  it.each([
    ['bogus eq "x"', "'bogus' is not an attribute of User"],
    ['name.bogus eq "x"', "'name' has no sub-attribute 'bogus'"],
    ['emails[bogus eq "x"]', "'emails' has no sub-attribute 'bogus'"],
    ['userName[value eq "x"]', "'userName' is not complex: a value filter [ ] does not apply"],
    ['password sw "a"', "'password' is never returned, so it cannot be filtered on"],
    ["active gt 1", "'gt' cannot compare the boolean 'active'"],
    ['name eq "x"', "'name' is complex: compare one of its sub-attributes"],
    ['meta.lastModified gt "yesterday"', "'yesterday' is not a dateTime to compare 'lastModified' with"],
    ['x509Certificates.value gt "a"', "'gt' cannot compare the binary 'value'"],
  ])("%j against the User schema: %s", (filter, detail) => {
    expect(detailOf(userFilter(filter))).toBe(detail);
  });

  it.each([
    ["", "the path is empty"],
    ["  ", "the path is empty"],
    ["[x]", "expected an attribute path at position 1 of '[x]'"],
    ['emails[type eq "work"', `expected ']' at the end of 'emails[type eq "work"'`],
    ['name.familyName[value eq "x"]', `unexpected input at position 16 of 'name.familyName[value eq "x"]'`],
    ['emails[type eq "work"].value extra', `unexpected input at position 23 of 'emails[type eq "work"].value extra'`],
    ['emails[type.sub eq "x"]', `inside [ ] only sub-attribute names may be used at position 8 of 'emails[type.sub eq "x"]'`],
    ['emails[name[value eq "x"]]', `a value filter cannot nest another at position 12 of 'emails[name[value eq "x"]]'`],
  ])("PATCH path %j: %s", (path, detail) => {
    expect(problemOf(() => parsePath(path))).toBe("invalidPath");
    expect(detailOf(() => parsePath(path))).toBe(detail);
  });

  it("refuses a bad attribute path on its own as invalidPath unless told otherwise", () => {
    expect(problemOf(() => parseAttributePath("a.b.c"))).toBe("invalidPath");
    expect(problemOf(() => parseAttributePath(":userName"))).toBe("invalidPath");
    expect(problemOf(() => parseAttributePath("a.b.c", "invalidFilter"))).toBe("invalidFilter");
    expect(parseAttributePath(`${USER_SCHEMA_ID}:name.givenName`)).toStrictEqual({ urn: USER_SCHEMA_ID, name: "name", sub: "givenName" });
  });
});

describe("filter edges", () => {
  it("reads numbers as JSON writes them, and nothing else", () => {
    for (const [text, value] of [
      ["0", 0],
      ["-0.5", -0.5],
      ["1.25", 1.25],
      ["1E+3", 1000],
      ["2e-2", 0.02],
      ["15e10", 150_000_000_000],
    ] as const)
      expect(parseFilter(`x eq ${text}`)).toStrictEqual({ kind: "compare", path: { name: "x" }, op: "eq", value });
    for (const bad of ["x eq 1.", "x eq .5", 'displayName eq "\\u12"', 'displayName eq "\\u00zz"', "$foo eq 1", "a$b eq 1", "name.1x eq 1"])
      expect(
        problemOf(() => parseFilter(bad)),
        bad,
      ).toBe("invalidFilter");
  });

  it("takes a URN prefix only when it is a URN", () => {
    expect(problemOf(() => parseFilter("xurn:ietf:params:title eq 1"))).toBe("invalidFilter");
    expect(problemOf(() => parseFilter("urn:x$y:title eq 1"))).toBe("invalidFilter");
    expect(parseFilter(`${ENTERPRISE_USER_SCHEMA_ID}:employeeNumber pr`)).toStrictEqual({
      kind: "present",
      path: { urn: ENTERPRISE_USER_SCHEMA_ID, name: "employeeNumber" },
    });
    expect(parsePath("name.givenName")).toStrictEqual({ attribute: { name: "name", sub: "givenName" } });
    expect(parsePath('emails[type eq "work"]')).toStrictEqual({
      attribute: { name: "emails" },
      filter: { kind: "compare", path: { name: "type" }, op: "eq", value: "work" },
    });
  });

  it("reads a filter of exactly the longest length, and nests exactly 50 deep", () => {
    const longest = `userName eq "${"a".repeat(4096 - 14)}"`;
    expect(longest).toHaveLength(4096);
    expect(problemOf(() => parseFilter(longest))).toBe("no problem");
    const nested = (depth: number, open: string) => `${open.repeat(depth)}title pr${")".repeat(depth)}`;
    expect(problemOf(() => parseFilter(nested(50, "(")))).toBe("no problem");
    expect(detailOf(() => parseFilter(nested(51, "(")))).toMatch(/^the filter nests too deeply at position 52 /);
    expect(problemOf(() => parseFilter(nested(50, "not (")))).toBe("no problem");
    expect(problemOf(() => parseFilter(nested(51, "not (")))).toBe("invalidFilter");
    // Inside a value filter the brackets count as one level.
    expect(problemOf(() => parseFilter(`emails[${nested(49, "(")}]`))).toBe("no problem");
    expect(problemOf(() => parseFilter(`emails[${nested(50, "(")}]`))).toBe("invalidFilter");
  });

  it("compares text by the whole value, its start, its end or any part, honouring caseExact", () => {
    expect(matching('userName eq "smith"')).toEqual([]);
    expect(matching('userName co "ENSE"')).toEqual(["a"]);
    expect(matching('userName sw "jsm"')).toEqual(["c"]);
    expect(matching('userName ew "SMITH"')).toEqual(["c"]);
    expect(matching('userName gt "jsmith"')).toEqual([]);
    expect(matching('userName ge "JSMITH"')).toEqual(["c"]);
    expect(matching('externalId co "ext"')).toEqual([]);
    expect(matching('externalId sw "Ext"')).toEqual(["b"]);
    // A number is not text: it equals no string attribute, and a stored non-string never matches.
    expect(matching("title eq 1")).toEqual([]);
    expect(selects('userName co "1"', { userName: 12 })).toBe(false);
    expect(selects('userName eq "12"', { userName: 12 })).toBe(false);
  });

  it("compares dateTimes by text for co, sw and ew, exactly as written", () => {
    expect(matching('meta.lastModified sw "2011-05-13T04"')).toEqual(["a", "c"]);
    expect(matching('meta.lastModified co "t04"')).toEqual([]);
    expect(matching('meta.lastModified ew "Z"')).toEqual(["a"]);
  });

  it("takes a dateTime without a zone as UTC, and refuses text around one", () => {
    expect(matching('meta.lastModified eq "2011-05-13T04:42:34"')).toEqual(["a"]);
    expect(problemOf(userFilter('meta.lastModified gt "on 2011-05-13T04:42:34Z"'))).toBe("invalidFilter");
    expect(problemOf(userFilter('meta.lastModified gt "2011-05-13T04:42:34Z or so"'))).toBe("invalidFilter");
    expect(selects('meta.lastModified gt "2011-01-01T00:00:00Z"', { meta: { lastModified: "last May" } })).toBe(false);
  });

  it("reads a boolean stored as text, as Entra sends it, and a boolean asked for as text", () => {
    expect(selects("active eq false", { active: "False" })).toBe(true);
    expect(selects("active eq true", { active: "TRUE" })).toBe(true);
    expect(selects("active eq true", { active: "False" })).toBe(false);
    expect(selects("active eq true", { active: "yes" })).toBe(false);
    expect(matching('active eq "true"')).toEqual(["a"]);
    expect(matching('active eq "False"')).toEqual(["b"]);
    // Text that is no boolean matches nothing, not even a user with no active at all.
    expect(matching('active eq "yes"')).toEqual([]);
  });

  it("compares a binary value exactly, and only by eq, co, sw and ew", () => {
    const user = { x509Certificates: [{ value: "MIIDQzCCA" }] };
    expect(selects('x509Certificates.value eq "MIIDQzCCA"', user)).toBe(true);
    expect(selects('x509Certificates.value eq "miidqzcca"', user)).toBe(false);
    expect(selects('x509Certificates.value co "IDQ"', user)).toBe(true);
    expect(selects('x509Certificates.value co "idq"', user)).toBe(false);
    expect(selects('x509Certificates.value sw "MII"', user)).toBe(true);
    expect(selects('x509Certificates.value ew "CCA"', user)).toBe(true);
    expect(selects('x509Certificates.value ne "MIIDQzCCA"', user)).toBe(false);
    for (const op of ["gt", "ge", "lt", "le"])
      expect(detailOf(userFilter(`x509Certificates.value ${op} "a"`))).toBe(`'${op}' cannot compare the binary 'value'`);
  });

  it("compares integers and decimals as numbers, of a resource type that has them", () => {
    const number = (name: string, type: "integer" | "decimal"): AttributeDefinition => ({
      name,
      type,
      multiValued: false,
      description: name,
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none",
    });
    const device: ScimResourceType = {
      name: "Device",
      endpoint: "/Devices",
      schema: {
        id: "urn:example:Device",
        name: "Device",
        description: "",
        attributes: [number("logins", "integer"), number("score", "decimal")],
      },
      extensions: [],
    };
    const resource = { logins: 3, score: 2.5 };
    const holds = (filter: string) => selects(filter, resource, device);
    expect([holds("logins eq 3"), holds("logins gt 2"), holds("logins ge 3"), holds("logins lt 4"), holds("logins le 3")]).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect([holds("logins eq 4"), holds("logins gt 3"), holds("logins ge 4"), holds("logins lt 3"), holds("logins le 2")]).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(holds("score gt 2.4")).toBe(true);
    expect(holds("logins ne 3")).toBe(false);
    // Text is not a number, stored or asked for.
    expect(holds('logins eq "3"')).toBe(false);
    expect(selects("logins eq 3", { logins: "3" }, device)).toBe(false);
    for (const op of ["co", "sw", "ew"])
      expect(detailOf(() => selects(`logins ${op} "3"`, resource, device))).toBe(`'${op}' cannot compare the number 'logins'`);
  });

  it("takes null on any attribute, complex or dateTime too", () => {
    expect(matching("name eq null")).toEqual(["c"]);
    expect(matching("name ne null")).toEqual(["a", "b"]);
    expect(matching("meta.lastModified eq null")).toEqual([]);
  });

  it('treats "" as unassigned, and no attribute at all as no element to match', () => {
    expect(selects("title eq null", { title: "" })).toBe(true);
    expect(selects("title pr", { title: "" })).toBe(false);
    expect(selects('title ne "x"', { title: "" })).toBe(true);
    for (const emails of [undefined, null])
      expect(selects('emails[not (type eq "work")]', { userName: "x", emails }), String(emails)).toBe(false);
    expect(selects('emails[not (type eq "work")]', { emails: [{ type: "home" }] })).toBe(true);
  });

  it("finds attributes however the resource spells them, and skips elements that are not objects", () => {
    const stored = { UserName: "x", EMAILS: [null, "text", { Value: "x@example.com", TYPE: "work" }] };
    expect(selects('userName eq "x"', stored)).toBe(true);
    expect(selects('emails.value eq "x@example.com"', stored)).toBe(true);
    expect(selects('emails[type eq "work" and value co "@example"]', stored)).toBe(true);
    expect(selects('emails[type eq "home"]', stored)).toBe(false);
  });

  it("describes schemas to a SQL translator as the multi-valued, case-insensitive reference it is", () => {
    const resolved = resolveFilter(parseFilter('schemas eq "x"'), USER_RESOURCE_TYPE);
    expect(resolved).toMatchObject({ kind: "compare", path: { schema: USER_SCHEMA_ID, extension: false } });
    expect(resolved.kind === "compare" && resolved.path.attribute).toEqual({
      name: "schemas",
      type: "reference",
      multiValued: true,
      description: "The schema URIs the resource uses.",
      required: true,
      caseExact: false,
      mutability: "readOnly",
      returned: "always",
      uniqueness: "none",
    });
    expect(matching(`schemas eq "${ENTERPRISE_USER_SCHEMA_ID.toUpperCase()}"`)).toEqual(["a"]);
  });
});
