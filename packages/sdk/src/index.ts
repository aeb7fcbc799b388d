import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

export type { components, paths } from "./schema.js";

/** The routes that answer a list envelope (`result` + `next_cursor`). */
type ListPath = {
  [P in keyof paths]: paths[P] extends { get: { responses: { 200: { content: { "application/json": { next_cursor: unknown } } } } } }
    ? P
    : never;
}[keyof paths];
type ListItem<P extends ListPath> = paths[P]["get"]["responses"][200]["content"]["application/json"] extends { result: (infer T)[] }
  ? T
  : never;
type ListQuery<P extends ListPath> = paths[P]["get"] extends { parameters: { query?: infer Q } } ? Omit<NonNullable<Q>, "cursor"> : never;
type ListPathParams<P extends ListPath> = paths[P]["get"] extends { parameters: { path?: infer R } } ? R : never;

export class UnifoldError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    super(`${status} ${error?.code ?? ""}: ${error?.message ?? "request failed"}`.trim());
    this.name = "UnifoldError";
  }
}

/**
 * A typed Unifold client: every route, parameter and body as the gateway's OpenAPI document
 * describes them, plus `paginate`, which follows `next_cursor` through every page of a list.
 *
 *   const unifold = createUnifoldClient({ baseUrl: "http://localhost:8080", apiKey });
 *   for await (const user of unifold.paginate("/unified/user-directory/users", { query: { connection_id } })) …
 */
export function createUnifoldClient(options: { baseUrl: string; apiKey: string; fetch?: typeof fetch }) {
  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    headers: { authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch && { fetch: options.fetch }),
  });

  async function* paginate<P extends ListPath>(
    path: P,
    params: { query: ListQuery<P>; path?: ListPathParams<P> },
  ): AsyncGenerator<ListItem<P>, void, undefined> {
    let cursor: string | undefined;
    do {
      const get = client.GET as unknown as (
        path: string,
        init: unknown,
      ) => Promise<{ data?: unknown; error?: unknown; response: Response }>;
      const { data, error, response } = await get(path, {
        params: { path: params.path, query: { ...params.query, ...(cursor && { cursor }) } },
      });
      if (error !== undefined || !data) throw new UnifoldError(response.status, error);
      const page = data as { result: ListItem<P>[]; next_cursor: string | null };
      yield* page.result;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  return Object.assign(client, { paginate });
}
