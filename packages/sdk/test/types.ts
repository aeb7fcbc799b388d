// Type-level checks, run by `npm run typecheck` (tsc): this file stops compiling when the SDK's
// types stop describing the unified model. Nothing here runs.
import { type components, createUnifoldClient } from "../src/index.ts";

type User = components["schemas"]["User"];

export async function unifiedUsersAreTyped(client: ReturnType<typeof createUnifoldClient>) {
  for await (const user of client.paginate("/unified/user-directory/users", { query: { connection_id: "c" } })) {
    const email: string = user.emails[0]!.email;
    const id: string = user.id;
    const status: "active" | "inactive" | "deleted" | "invited" | null = user.status;
    // @ts-expect-error a user's username may be null: it is not a plain string.
    const username: string = user.username;
    // @ts-expect-error the model has no such field.
    void user.source;
    void [email, id, status, username];
  }
  for await (const group of client.paginate("/unified/user-directory/groups", { query: { connection_id: "c" } })) {
    const count: number | null = group.member_count;
    const kind: "team" | "department" | "group" | null = group.group_type;
    void [count, kind];
  }
}

// @ts-expect-error a phone's type is one of the model's values, not any string.
export const offModel: User["phones"][number]["type"] = "workofficephone";
