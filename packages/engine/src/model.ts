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

export const Email = z.object({
  email: z.string().min(1),
  type: z.enum(emailTypes).nullable(),
  is_primary: z.boolean().nullable(),
});
export const Phone = z.object({
  number: z.string().min(1),
  extension: text,
  type: z.enum(phoneTypes).nullable(),
});
export const Address = z.object({
  type: z.enum(addressTypes).nullable(),
  street: text,
  city: text,
  region: text,
  postal_code: text,
  country: text,
});
/** A reference to another object, with its name where the vendor gives one in the same answer. */
export const Reference = z.object({ id: z.string().min(1), name: text });

/** The raw upstream object, as the vendor sent it; absent with `remote_data=false`. */
const remoteData = z.unknown().optional().describe("The raw upstream object; absent with remote_data=false");

export const User = z.object({
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
});

export const Employee = User.extend({
  job_title: text,
  employment_type: text,
  company: text,
  cost_center: text,
  location: text,
});

export const Group = z.object({
  id: z.string().min(1),
  name: text,
  description: text,
  group_type: z.enum(groupTypes).nullable(),
  member_count: z.number().int().nonnegative().nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
  remote_data: remoteData,
});

export const GroupMember = z.object({ user_id: z.string().min(1), name: text, remote_data: remoteData });

export const Organization = z.object({
  id: z.string().min(1),
  name: text,
  created_at: Timestamp,
  updated_at: Timestamp,
  remote_data: remoteData,
});
export const Company = Organization.extend({});

export const Role = z.object({
  id: z.string().min(1),
  name: text,
  description: text,
  created_at: Timestamp,
  updated_at: Timestamp,
  remote_data: remoteData,
});

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
