/**
 * The browser side of the hosted connect page: send a customer to a link made by
 * `POST /connect/sessions` and learn which connection they made. No dependency, no API key: the
 * link is all the browser holds.
 */

/**
 * What the page reports. It is not signed: the browser could change it. Check `state` against
 * the one you gave the session, then confirm `connection_id` from your backend with
 * `GET /connect/sessions/{session_id}` before you trust it.
 */
export interface ConnectResult {
  connection_id: string;
  /** `created`, `existing` (this account was already connected) or `reconnected`. */
  outcome: "created" | "existing" | "reconnected";
  /** The session (`id` of `POST /connect/sessions`). */
  session_id?: string | undefined;
  /** The session's `state`, when it was given one. */
  state?: string | undefined;
}

/** The customer left the page without connecting, or the link no longer works. */
export class ConnectError extends Error {
  constructor(readonly code: "cancelled" | "expired" | "already_used" | "too_many_attempts" | "closed" | "popup_blocked" | string) {
    super(`connect: ${code}`);
    this.name = "ConnectError";
  }
}

export interface OpenConnectOptions {
  /** The session's `url`. */
  url: string;
  /**
   * `redirect` (the default; works on mobile and without popups) leaves this page: read the result
   * on the session's `redirect_url` with `connectResultFrom(location.href)`. `popup` and `iframe`
   * resolve here; the session must list this page's origin in `allowed_origins`.
   */
  mode?: "redirect" | "popup" | "iframe";
  /** Where the iframe goes (iframe mode); the body by default. */
  container?: HTMLElement;
  /** Popup size; 480×720 by default. */
  width?: number;
  height?: number;
}

/** Opens the connect page; resolves with the connection made (popup and iframe modes). */
export function openConnect(options: OpenConnectOptions): Promise<ConnectResult> {
  const mode = options.mode ?? "redirect";
  if (mode === "redirect") {
    window.location.assign(options.url);
    // The page is leaving; the result arrives on redirect_url.
    return new Promise<ConnectResult>(() => {});
  }
  const pageOrigin = new URL(options.url, window.location.href).origin;
  return new Promise<ConnectResult>((resolve, reject) => {
    let frame: HTMLIFrameElement | undefined;
    let popup: Window | null = null;
    // Set once the popup is open; finish() may run before that.
    const timer: { watch?: ReturnType<typeof setInterval> } = {};
    const finish = () => {
      window.removeEventListener("message", onMessage);
      if (timer.watch) clearInterval(timer.watch);
      frame?.remove();
      if (popup && !popup.closed) popup.close();
    };
    // Only the gateway's own page, in the window this call opened, is listened to.
    const onMessage = (event: MessageEvent) => {
      const source = frame ? frame.contentWindow : popup;
      if (event.origin !== pageOrigin || event.source !== source) return;
      const data = event.data as Partial<ConnectResult> & { type?: string; error?: string };
      if (data?.type !== "unifold:connect") return;
      finish();
      if (data.connection_id && data.outcome)
        resolve({ connection_id: data.connection_id, outcome: data.outcome, session_id: data.session_id, state: data.state });
      else reject(new ConnectError(data.error ?? "closed"));
    };
    window.addEventListener("message", onMessage);
    if (mode === "iframe") {
      frame = document.createElement("iframe");
      frame.src = options.url;
      frame.title = "Connect your account";
      frame.style.cssText = "width:100%;min-height:640px;border:0";
      (options.container ?? document.body).appendChild(frame);
      return;
    }
    const width = options.width ?? 480;
    const height = options.height ?? 720;
    const left = Math.max(0, window.screenX + (window.outerWidth - width) / 2);
    const top = Math.max(0, window.screenY + (window.outerHeight - height) / 2);
    popup = window.open(options.url, "unifold-connect", `popup,width=${width},height=${height},left=${left},top=${top}`);
    if (!popup) {
      finish();
      reject(new ConnectError("popup_blocked"));
      return;
    }
    timer.watch = setInterval(() => {
      if (popup?.closed) {
        finish();
        reject(new ConnectError("closed"));
      }
    }, 500);
  });
}

/** The result the connect page added to `redirect_url` (redirect mode): a connection, or a ConnectError. */
export function connectResultFrom(url: string): ConnectResult {
  const params = new URL(url).searchParams;
  const connectionId = params.get("connection_id");
  const outcome = params.get("outcome");
  if (connectionId && (outcome === "created" || outcome === "existing" || outcome === "reconnected"))
    return {
      connection_id: connectionId,
      outcome,
      session_id: params.get("session_id") ?? undefined,
      state: params.get("state") ?? undefined,
    };
  throw new ConnectError(params.get("error") ?? "closed");
}
