import { createUnifoldClient } from "@unifold/sdk";

// UNIFOLD_URL, UNIFOLD_API_KEY and CONN as `npm run demo` prints them on its export line.
const unifold = createUnifoldClient({
  baseUrl: process.env.UNIFOLD_URL ?? "http://127.0.0.1:8080",
  apiKey: process.env.UNIFOLD_API_KEY ?? "",
});
const connection_id = process.env.CONN ?? "";
for await (const user of unifold.paginate("/unified/user-directory/users", { query: { connection_id, limit: 200 } })) {
  console.log(user.username, user.status); // user is the model's User: user.emails[0]?.email is a string or undefined
}
const { data, error } = await unifold.POST("/unified/user-directory/users", {
  params: { query: { connection_id } },
  body: { username: "ada", first_name: "Ada", last_name: "Lovelace", emails: [{ email: "ada@acme.example.com", is_primary: true }] },
});
console.log(data?.id ?? error);
