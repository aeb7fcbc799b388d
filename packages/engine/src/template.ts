/**
 * `{{credentials.api_key}}`-style placeholders in header values, paths and queries.
 * A template whose placeholder resolves to nothing yields `undefined`, so an optional
 * header (an optional org id) is left out rather than sent empty.
 */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)\s*\}\}/g;

export type TemplateContext = Record<string, unknown>;

export function placeholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
}

export function render(template: string, context: TemplateContext, encode: (value: string) => string = (v) => v): string | undefined {
  let missing = false;
  const out = template.replace(PLACEHOLDER, (_, path: string) => {
    const value = lookup(context, path);
    if (value === undefined || value === null || value === "") {
      missing = true;
      return "";
    }
    return encode(String(value));
  });
  return missing ? undefined : out;
}

function lookup(context: TemplateContext, path: string): unknown {
  let current: unknown = context;
  for (const key of path.split(".")) {
    if (typeof current !== "object" || current === null || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
