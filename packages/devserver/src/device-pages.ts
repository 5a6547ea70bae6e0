/**
 * The HTML pages the local authorization server shows a person during the device flow (RFC 8628) and on errors.
 *
 * oidc-provider renders its own default pages, but they pull web fonts from the internet and print a notice on
 * stdout the first time each default is used; stdout of the standalone server is a machine-read channel, so the
 * server supplies these plain pages instead. They keep oidc-provider's form markup (the `form` argument, with ids
 * `op.deviceInputForm` / `op.deviceConfirmForm`) so a browser or the headless user in `headless-user.ts` submits
 * them exactly as it would the defaults. No page ever shows a token.
 */
import type { ErrorOut, KoaContextWithOIDC } from "oidc-provider";

const escapedCharacters: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for use inside HTML element content or a double-quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => escapedCharacters[character] ?? character);
}

function page(title: string, content: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${content}
</main>
</body>
</html>`;
}

function errorMessage(out: ErrorOut | undefined, error: Error | undefined): string {
  if (error === undefined && out === undefined) return "";
  const name = error?.name ?? "";
  const message =
    name === "AbortedError"
      ? "The sign-in request was interrupted."
      : name === "NoCodeError" || name === "NotFoundError"
        ? "The code you entered is incorrect. Try again."
        : name === "ExpiredError"
          ? "The code has expired."
          : name === "AlreadyUsedError"
            ? "The code has already been used."
            : `There was an error processing your request (${out?.error ?? "unknown"}).`;
  return `<p class="error" data-error="${escapeHtml(name || out?.error || "error")}">${escapeHtml(message)}</p>`;
}

/** `features.deviceFlow.userCodeInputSource`: the page asking for the code shown on the device. */
export function renderUserCodeInput(ctx: KoaContextWithOIDC, form: string, out?: ErrorOut, error?: Error): void {
  ctx.type = "html";
  ctx.body = page(
    "Sign in a device",
    `${errorMessage(out, error)}
<p>Enter the code displayed on your device.</p>
${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`,
  );
}

/** `features.deviceFlow.userCodeConfirmSource`: the page asking the person to confirm the device's code. */
export function renderUserCodeConfirm(
  ctx: KoaContextWithOIDC,
  form: string,
  _client: unknown,
  _deviceInfo: unknown,
  userCode: string,
): void {
  ctx.type = "html";
  ctx.body = page(
    "Confirm the device",
    `<p>The following code should be displayed on your device:</p>
<p><code>${escapeHtml(userCode)}</code></p>
${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>`,
  );
}

/** `features.deviceFlow.successSource`: shown once the device has been approved. */
export function renderDeviceSuccess(ctx: KoaContextWithOIDC): void {
  ctx.type = "html";
  ctx.body = page(
    "Device signed in",
    `<p data-result="approved">The device is signed in. You can close this page.</p>`,
  );
}

/** `renderError`: the error page for browser-facing endpoints. */
export function renderErrorPage(ctx: KoaContextWithOIDC, out: ErrorOut): void {
  ctx.type = "html";
  const lines = Object.entries(out)
    .filter((entry): entry is [string, string] => typeof entry[1] === "string")
    .map(([key, value]) => `<pre><strong>${escapeHtml(key)}</strong>: ${escapeHtml(value)}</pre>`)
    .join("\n");
  ctx.body = page("Something went wrong", lines);
}
