/** An endpoint's URL without a user name or password (refused since; an older row may hold them). */
export function shownUrl(url: string): string {
  const parsed = URL.parse(url);
  if (!parsed || (!parsed.username && !parsed.password)) return url;
  parsed.username = "";
  parsed.password = "";
  return parsed.toString();
}
