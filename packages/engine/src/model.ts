import { z } from "zod";
import type { UnifiedResource } from "./definition.ts";

/**
 * The unified model: one shape and one meaning per value, whatever the vendor. These schemas are
 * the one source for the gateway's check of every mapped record (conform.ts), the OpenAPI
 * document and so the typed SDK. Every field is present in an answer: `null` where the vendor has
 * no value, `[]` for a list-valued field with no items.
 */

export const userStatuses = ["active", "inactive", "deleted", "invited"] as const;
export const emailTypes = ["work", "personal", "other"] as const;
export const phoneTypes = ["work", "mobile", "home", "fax", "other"] as const;
export const addressTypes = ["work", "home", "other"] as const;
export const groupTypes = ["team", "department", "group"] as const;

const text = z.string().min(1).nullable();
/** ISO-8601 in UTC, ending in `Z`. A vendor time with an offset is converted; one that is no time is `null`. */
export const Timestamp = z.iso.datetime().nullable().describe("ISO-8601 UTC, ending in Z");

export const Email = z
  .object({
    email: z.string().min(1),
    type: z.enum(emailTypes).nullable(),
    is_primary: z.boolean().nullable(),
  })
  .meta({ id: "Email" });
export const Phone = z
  .object({
    number: z.string().min(1),
    extension: text,
    type: z.enum(phoneTypes).nullable(),
  })
  .meta({ id: "Phone" });
export const Address = z
  .object({
    type: z.enum(addressTypes).nullable(),
    street: text,
    city: text,
    region: text,
    postal_code: text,
    country: text,
  })
  .meta({ id: "Address" });
/** A reference to another object, with its name where the vendor gives one in the same answer. */
export const Reference = z.object({ id: z.string().min(1), name: text }).meta({ id: "Reference" });

/** The raw upstream object, as the vendor sent it; absent with `remote_data=false`. */
const remoteData = z.unknown().optional().describe("The raw upstream object; absent with remote_data=false");

export const User = z
  .object({
    id: z.string().min(1),
    external_id: text,
    username: text,
    name: text,
    first_name: text,
    last_name: text,
    title: text,
    emails: z.array(Email),
    phones: z.array(Phone),
    status: z.enum(userStatuses).nullable(),
    department: text,
    manager_id: text,
    employee_number: text,
    addresses: z.array(Address),
    roles: z.array(Reference),
    groups: z.array(Reference),
    organizations: z.array(Reference),
    is_2fa_enabled: z.boolean().nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
    last_login_at: Timestamp,
    remote_data: remoteData,
  })
  .meta({ id: "User" });

export const Employee = User.extend({
  job_title: text,
  employment_type: text,
  company: text,
  cost_center: text,
  location: text,
}).meta({ id: "Employee" });

export const Group = z
  .object({
    id: z.string().min(1),
    name: text,
    description: text,
    group_type: z.enum(groupTypes).nullable(),
    member_count: z.number().int().nonnegative().nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
    remote_data: remoteData,
  })
  .meta({ id: "Group" });

export const GroupMember = z.object({ user_id: z.string().min(1), name: text, remote_data: remoteData }).meta({ id: "GroupMember" });

export const Organization = z
  .object({
    id: z.string().min(1),
    name: text,
    created_at: Timestamp,
    updated_at: Timestamp,
    remote_data: remoteData,
  })
  .meta({ id: "Organization" });
export const Company = Organization.extend({}).meta({ id: "Company" });

export const Role = z
  .object({
    id: z.string().min(1),
    name: text,
    description: text,
    created_at: Timestamp,
    updated_at: Timestamp,
    remote_data: remoteData,
  })
  .meta({ id: "Role" });

export type User = z.infer<typeof User>;
export type Employee = z.infer<typeof Employee>;
export type Group = z.infer<typeof Group>;
export type GroupMember = z.infer<typeof GroupMember>;
export type Organization = z.infer<typeof Organization>;
export type Company = z.infer<typeof Company>;
export type Role = z.infer<typeof Role>;

/** Each unified resource's model, by the name it has in OpenAPI. */
export const resourceModels = {
  users: { name: "User", schema: User },
  me: { name: "User", schema: User },
  employees: { name: "Employee", schema: Employee },
  groups: { name: "Group", schema: Group },
  hris_groups: { name: "Group", schema: Group },
  group_members: { name: "GroupMember", schema: GroupMember },
  organizations: { name: "Organization", schema: Organization },
  companies: { name: "Company", schema: Company },
  roles: { name: "Role", schema: Role },
} as const satisfies Record<UnifiedResource, { name: string; schema: z.ZodObject }>;

// ── What callers write ───────────────────────────────────────────────────────────────────────
// The model less what only the vendor sets; the same value sets as the read side. Unknown
// fields are refused. Which fields a vendor can set, and which a create needs, is each
// integration's to say (`fields`, `required` in integration.yaml).

const input = (max: number) => z.string().min(1).max(max);
export const EmailInput = z
  .object({ email: z.email().max(320), type: z.enum(emailTypes).optional(), is_primary: z.boolean().optional() })
  .strict()
  .meta({ id: "EmailInput" });
export const PhoneInput = z
  .object({ number: input(50), type: z.enum(phoneTypes).optional() })
  .strict()
  .meta({ id: "PhoneInput" });
export const AddressInput = z
  .object({
    type: z.enum(addressTypes).optional(),
    street: input(200).optional(),
    city: input(100).optional(),
    region: input(100).optional(),
    postal_code: input(20).optional(),
    country: input(100).optional(),
  })
  .strict()
  .meta({ id: "AddressInput" });

/** A user to create, or the fields of one to change. */
export const UserInput = z
  .object({
    external_id: input(200),
    username: input(320),
    first_name: input(200),
    last_name: input(200),
    title: input(200),
    emails: z.array(EmailInput).max(10),
    phones: z.array(PhoneInput).max(10),
    status: z.enum(["active", "inactive"]),
    department: input(200),
    manager_id: input(200),
    employee_number: input(100),
    addresses: z.array(AddressInput).max(5),
  })
  .partial()
  .strict()
  .meta({ id: "UserInput" });
/** A group to create, or the fields of one to change. */
export const GroupInput = z
  .object({ name: input(200), description: z.string().max(1000) })
  .partial()
  .strict()
  .meta({ id: "GroupInput" });
/** The user to add to a group. */
export const MemberInput = z
  .object({ user_id: input(200) })
  .strict()
  .meta({ id: "MemberInput" });

/** The answer of a delete: whether the vendor deleted the object or, where it must, deactivated it. */
export const Deleted = z.object({ id: z.string(), outcome: z.enum(["deleted", "deactivated"]) }).meta({ id: "Deleted" });
/** The answer of a member add or remove: who, in which group. */
export const GroupMembership = z.object({ user_id: z.string(), group_id: z.string() }).meta({ id: "GroupMembership" });

/** One operation's result in a batch, in the order the operations were sent. */
export const BatchOperationResult = z
  .object({
    method: z.enum(["create", "update", "delete"]),
    status: z.number().int(),
    id: z.string().optional(),
    outcome: z.enum(["deleted", "deactivated"]).optional(),
    data: User.optional(),
    error: z.object({ code: z.string(), message: z.string(), status: z.number().int(), upstream: z.unknown().optional() }).optional(),
  })
  .meta({ id: "BatchOperationResult" });

export type UserInput = z.infer<typeof UserInput>;
export type GroupInput = z.infer<typeof GroupInput>;
export type MemberInput = z.infer<typeof MemberInput>;
