import { readFileSync } from "node:fs";
import { createUnifoldClient, UnifoldError } from "@unifold/sdk";
import { describe, expect, it } from "vitest";
import { generatedSchema, schemaFile } from "../../../scripts/generate-sdk.ts";
import { useGatewayWithSandbox } from "./harness.ts";

describe("the typed SDK (packages/sdk)", () => {
  const fx = useGatewayWithSandbox({ tenants: { acme: 23 } });

  it("is generated from the current OpenAPI document (run `npm run sdk:generate` when this fails)", async () => {
    expect(readFileSync(schemaFile, "utf8") === (await generatedSchema()), "packages/sdk/src/schema.ts is stale").toBe(true);
  });

  it("pages through a whole list with paginate, and reads and writes with typed calls", async () => {
    const unifold = createUnifoldClient({ baseUrl: fx.gw.url, apiKey: fx.apiKey });
    const ids: string[] = [];
    for await (const user of unifold.paginate("/unified/user-directory/users", {
      query: { connection_id: fx.conn.jumpcloud!, limit: 5, remote_data: "false" },
    })) {
      ids.push(String(user.id));
    }
    expect(ids).toHaveLength(fx.sandbox.jumpcloud.tenant("acme").users.all().length);
    expect(new Set(ids).size).toBe(ids.length);

    const { data, error, response } = await unifold.POST("/unified/user-directory/users", {
      params: { query: { connection_id: fx.conn["postman-scim"]! } },
      body: { username: "sdk.user@acme.example.com", first_name: "Sdk", last_name: "User" },
    });
    expect(error).toBeUndefined();
    expect(response.status).toBe(201);
    expect(data?.username).toBe("sdk.user@acme.example.com");
  });

  it("surfaces the contract's error as UnifoldError", async () => {
    const unifold = createUnifoldClient({ baseUrl: fx.gw.url, apiKey: fx.apiKey });
    const pages = unifold.paginate("/unified/user-directory/users", { query: { connection_id: "00000000-0000-4000-a000-000000000000" } });
    await expect(pages.next()).rejects.toBeInstanceOf(UnifoldError);
  });
});
