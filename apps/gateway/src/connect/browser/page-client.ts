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
const focus = document.getElementById("errors") || (document.querySelector("form") ? null : document.getElementById("title"));
if (focus) focus.focus();
const data = document.getElementById("unifold-result");
const target: Window | null = window.opener || (window.parent !== window ? window.parent : null);
if (data && target) {
  const { message, origins } = JSON.parse(data.textContent ?? "") as ResultData;
  for (const origin of origins) target.postMessage(message, origin);
}
