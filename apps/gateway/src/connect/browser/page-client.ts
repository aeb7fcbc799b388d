// The hosted connect page's one script: browser code, inlined under the response's CSP nonce
// (../assets.ts) as a self-contained IIFE, so it imports nothing. Type-checked against the DOM by
// the tsconfig.json beside it.
//
// Runs on every state: tells the server how the page was opened (redirect, popup or iframe), moves
// focus to the errors or the heading, and hands a result to the opener or parent, only at the
// session's allowed origins (never "*"). The result comes from the page's JSON data block
// (`<script type="application/json" id="unifold-result">`), never from code built at render time.

/** What page.ts puts in the data block: the message to post and the origins allowed to receive it. */
interface ResultData {
  message: unknown;
  origins: string[];
}

const embedded = window.opener ? "popup" : window.parent !== window ? "iframe" : "redirect";
for (const input of document.querySelectorAll<HTMLInputElement>('input[name="mode"]')) input.value = embedded;
// Links to the page's next state say how it was opened: a redirect-mode page that turns out
// connected goes straight back to redirect_url, a popup or a frame stays to hand the result over.
const withMode = (href: string, polled: boolean) => {
  const url = new URL(href);
  url.searchParams.set("mode", embedded);
  if (polled) url.searchParams.set("polled", "");
  return url.toString();
};
for (const link of document.querySelectorAll<HTMLAnchorElement>("a[data-keep-mode]")) link.href = withMode(link.href, false);
// A page that waits (for an identity provider's first request) looks again by itself; when it
// does, it leaves focus alone (a screen reader would read the heading out every few seconds).
const reload = document.querySelector<HTMLElement>("[data-reload-after]");
const polled = reload !== null && new URL(location.href).searchParams.has("polled");
const focus = document.getElementById("errors") || (document.querySelector("form") || polled ? null : document.getElementById("title"));
if (focus) focus.focus();
if (reload) setTimeout(() => location.replace(withMode(location.href, true)), Number(reload.dataset.reloadAfter) || 5000);

// A form that makes something once (a push connection and its token) is sent once: a double click
// would show the second answer, which holds no token.
for (const form of document.querySelectorAll<HTMLFormElement>("form[data-once]")) {
  form.addEventListener("submit", (event) => {
    if (form.dataset.sent) event.preventDefault();
    else form.dataset.sent = "1";
  });
}
window.addEventListener("pageshow", (event) => {
  if (event.persisted) for (const form of document.querySelectorAll<HTMLFormElement>("form[data-once]")) delete form.dataset.sent;
});

// Copy buttons (hidden without this script): the value into the clipboard, said in the status line.
for (const button of document.querySelectorAll<HTMLButtonElement>("button[data-copy]")) {
  const field = document.getElementById(button.dataset.copy ?? "");
  if (!(field instanceof HTMLInputElement)) continue;
  button.hidden = false;
  button.addEventListener("click", () => {
    const status = document.getElementById("copied");
    const said = () => {
      if (status) status.textContent = button.dataset.copied ?? "";
    };
    // Selected as well, so that where the clipboard is not allowed (a page not served over https) a copy key still works.
    field.select();
    if (navigator.clipboard) navigator.clipboard.writeText(field.value).then(said, () => undefined);
  });
}
const data = document.getElementById("unifold-result");
const target: Window | null = window.opener || (window.parent !== window ? window.parent : null);
if (data && target) {
  const { message, origins } = JSON.parse(data.textContent ?? "") as ResultData;
  for (const origin of origins) target.postMessage(message, origin);
}
