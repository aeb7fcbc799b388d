import { createHash } from "node:crypto";

/**
 * Deterministic seeded directories: the same seed and tenant always give the same people,
 * teams, organizations and roles. Each vendor simulator projects them into its own shapes.
 */
export interface Person {
  index: number;
  firstName: string;
  middleName: string | undefined;
  lastName: string;
  nickName: string | undefined;
  email: string;
  personalEmail: string;
  title: string;
  department: string;
  /** Index of this person's manager, or null for the top of the tree. */
  manager: number | null;
  employeeNumber: string;
  employeeType: "full-time" | "part-time" | "contractor";
  workPhone: string;
  mobilePhone: string;
  address: { street: string; city: string; region: string; postalCode: string; country: string };
  location: string;
  costCenter: string;
  state: "active" | "inactive" | "staged";
  mfa: boolean;
  created: string;
  updated: string;
}

export interface Team {
  name: string;
  description: string;
  kind: "department" | "team";
  members: number[];
}

export interface Directory {
  tenant: string;
  domain: string;
  company: string;
  people: Person[];
  teams: Team[];
  organizations: { name: string; created: string }[];
  roles: { name: string; description: string }[];
}

const FIRST =
  "Ava Ben Chloe Daniel Elena Felix Grace Hugo Isla Jonas Kira Liam Maya Noah Olivia Pablo Quinn Rosa Samir Tara Umar Vera Wes Xenia Yusuf Zoe Amara Bruno Carmen Dmitri Esme Farah Gustavo Hana Ivan Jade Kenji Lena Mateo Nadia Omar Priya Rafael Sofia Tomas Ulla Victor Wanda Yara Zane Alice Bilal Cora Diego Emil Fatima Georg Helena".split(
    " ",
  );
const LAST =
  "Smith Garcia Chen Müller Okafor Rossi Tanaka Johansson Novak Silva Kowalski Dubois Haddad Ivanova Kim Larsen Moreau Nguyen O'Brien Patel Quinto Reyes Schmidt Torres Usman Varga Weber Yilmaz Zhou Andersen Baker Costa Dias Evans Fischer Gomez Hansen Ito Jensen Khan Lopez Martin Nakamura Olsen Perez Ramos Santos Takahashi Urban Vogel Walsh Young Ziegler Abbott Brennan Castillo Dunn".split(
    " ",
  );
const DEPARTMENTS: [string, string[]][] = [
  ["Engineering", ["Software Engineer", "Senior Software Engineer", "Staff Engineer", "Engineering Manager", "SRE"]],
  ["Sales", ["Account Executive", "Sales Development Rep", "Sales Manager", "Solutions Engineer"]],
  ["Marketing", ["Content Marketer", "Product Marketing Manager", "Designer", "Marketing Lead"]],
  ["Finance", ["Accountant", "Financial Analyst", "Controller"]],
  ["People", ["HR Business Partner", "Recruiter", "People Operations Lead"]],
  ["Support", ["Support Engineer", "Customer Success Manager", "Support Lead"]],
  ["Legal", ["Counsel", "Paralegal"]],
];
const CITIES = [
  { city: "Berlin", region: "BE", country: "DE", postal: "101" },
  { city: "Austin", region: "TX", country: "US", postal: "787" },
  { city: "Toronto", region: "ON", country: "CA", postal: "M5V" },
  { city: "London", region: "LDN", country: "GB", postal: "EC1" },
  { city: "Lisbon", region: "LIS", country: "PT", postal: "110" },
  { city: "Sydney", region: "NSW", country: "AU", postal: "200" },
];
const STREETS = "Maple Street,Harbour Road,King Street,Elm Avenue,Station Road,Park Lane,Mill Way,Bridge Street".split(",");
const TEAM_NAMES = "Platform,Payments,Growth,Mobile,Data,Security,Onboarding,Enterprise,Design Systems,Incident Response".split(",");
export const ADMIN_ROLES = [
  ["Administrator", "Full access to the organization"],
  ["Administrator With Billing", "Full access including billing"],
  ["Command Runner", "Runs commands on devices"],
  ["Command Runner with Billing", "Runs commands, manages billing"],
  ["Read Only", "Reads everything, changes nothing"],
  ["Help Desk", "Resets passwords and unlocks users"],
  ["Manager", "Manages users and groups"],
] as const;

/** mulberry32: tiny, fast, and good enough for fixtures. */
export function randomSource(seed: string): () => number {
  let state = createHash("sha256").update(seed).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A stable hex id of `length` characters derived from the seed and a label. */
export function stableHex(seed: string, label: string, length: number): string {
  let out = "";
  for (let i = 0; out.length < length; i++) out += createHash("sha256").update(`${seed}:${label}:${i}`).digest("hex");
  return out.slice(0, length);
}

const ascii = (s: string) =>
  s
    .normalize("NFD")
    .replace(/[^A-Za-z]/g, "")
    .toLowerCase();

export function createDirectory(options: { seed: string; tenant: string; users: number }): Directory {
  const rng = randomSource(`${options.seed}:${options.tenant}`);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rng() * list.length)] as T;
  const domain = `${ascii(options.tenant)}.example.com`;
  const company = `${options.tenant[0]?.toUpperCase()}${options.tenant.slice(1)} Inc.`;
  const base = Date.UTC(2023, 0, 1);
  const usedEmails = new Map<string, number>();
  const people: Person[] = [];

  for (let index = 0; index < options.users; index++) {
    const firstName = pick(FIRST);
    const lastName = pick(LAST);
    const local = `${ascii(firstName)}.${ascii(lastName)}`;
    const seen = usedEmails.get(local) ?? 0;
    usedEmails.set(local, seen + 1);
    const email = `${local}${seen ? seen + 1 : ""}@${domain}`;
    const [department, titles] = index === 0 ? ["Executive", ["Chief Executive Officer"]] : pick(DEPARTMENTS);
    const place = pick(CITIES);
    const roll = rng();
    const created = new Date(base + Math.floor(rng() * 600) * 86_400_000 + Math.floor(rng() * 86_400_000));
    const updated = new Date(created.getTime() + Math.floor(rng() * 200) * 86_400_000);
    people.push({
      index,
      firstName,
      middleName: rng() < 0.2 ? pick(FIRST) : undefined,
      lastName,
      nickName: rng() < 0.1 ? firstName.slice(0, 3) : undefined,
      email,
      personalEmail: `${local}${index}@mail.example.net`,
      title: pick(titles),
      department,
      // The first few people run the company; everyone else reports to someone hired before them.
      manager: index === 0 ? null : Math.floor(rng() * Math.min(index, 25)),
      employeeNumber: `E${String(10000 + index)}`,
      employeeType: roll < 0.8 ? "full-time" : roll < 0.92 ? "part-time" : "contractor",
      workPhone: `+1-555-${String(1000 + ((index * 7) % 9000)).padStart(4, "0")}`,
      mobilePhone: `+1-555-${String(1000 + ((index * 13) % 9000)).padStart(4, "0")}`,
      address: {
        street: `${1 + Math.floor(rng() * 400)} ${pick(STREETS)}`,
        city: place.city,
        region: place.region,
        postalCode: `${place.postal}${String(Math.floor(rng() * 100)).padStart(2, "0")}`,
        country: place.country,
      },
      location: place.city,
      costCenter: `CC-${100 + DEPARTMENTS.findIndex(([d]) => d === department)}`,
      // A realistic mix: mostly active, some deactivated, a few invited but not yet active.
      state: index === 0 ? "active" : rng() < 0.82 ? "active" : rng() < 0.65 ? "inactive" : "staged",
      mfa: rng() < 0.6,
      created: created.toISOString(),
      updated: updated.toISOString(),
    });
  }

  const teams: Team[] = [];
  for (const [department] of DEPARTMENTS) {
    const members = people.filter((p) => p.department === department).map((p) => p.index);
    if (members.length) teams.push({ name: department, description: `Everyone in ${department}`, kind: "department", members });
  }
  const teamCount = Math.max(2, Math.min(TEAM_NAMES.length, Math.ceil(options.users / 8)));
  for (let t = 0; t < teamCount; t++) {
    const members = people.filter(() => rng() < Math.min(0.3, 12 / Math.max(1, options.users))).map((p) => p.index);
    if (members.length === 0 && people.length) members.push(Math.floor(rng() * people.length));
    teams.push({ name: `${TEAM_NAMES[t]} Team`, description: `The ${TEAM_NAMES[t]} team`, kind: "team", members });
  }

  return {
    tenant: options.tenant,
    domain,
    company,
    people,
    teams,
    organizations: [{ name: company, created: new Date(base - 86_400_000 * 30).toISOString() }],
    roles: ADMIN_ROLES.map(([name, description]) => ({ name, description })),
  };
}
