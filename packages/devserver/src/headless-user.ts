/**
 * Acts as the person at the browser, for tests and `baton demo` against the local authorization server: follows the
 * authorization redirects, or types a device flow user code into the verification page and confirms it. It uses
 * plain `fetch` with manual redirects and the small cookie jar in `cookie-jar.ts` (oidc-provider ties the steps of
 * an interaction together with cookies). The server's interaction handler logs in and consents on its own, so no
 * login or consent form ever has to be filled in.
 *
 * Errors name the step, the HTTP status and the page's text; they never include tokens or authorization codes.
 */
import { CookieJar } from "./cookie-jar.ts";
import { ROUTES } from "./provider-configuration.ts";

export class HeadlessUserError extends Error {
  override readonly name = "HeadlessUserError";
}

export interface ApproveAuthorizationOptions {
  /** Also GET the final redirect URL (the client's loopback callback), as a browser would. Default false. */
  readonly deliver?: boolean;
}

/** Anything that names the authorization server, such as an `AuthorizationServer`. */
export interface AuthorizationServerAddress {
  readonly issuer: string;
}

interface Page {
  readonly kind: "page";
  readonly url: URL;
  readonly status: number;
  readonly html: string;
}

interface Destination {
  readonly kind: "destination";
  readonly url: URL;
}

interface HtmlForm {
  readonly action: URL;
  readonly fields: URLSearchParams;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 20;

const entities: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (match, entity: string) => {
    if (entity.startsWith("#x") || entity.startsWith("#X"))
      return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith("#")) return String.fromCodePoint(Number(entity.slice(1)));
    return entities[entity.toLowerCase()] ?? match;
  });
}

function attributesOf(tagText: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const match of tagText.matchAll(/([a-zA-Z_:][-\w:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    const [, name = "", doubleQuoted, singleQuoted] = match;
    attributes.set(name.toLowerCase(), decodeEntities(doubleQuoted ?? singleQuoted ?? ""));
  }
  return attributes;
}

/** Finds the form with the given id and collects its named inputs, as a browser would submit them. */
function findForm(page: Page, id: string): HtmlForm | undefined {
  for (const match of page.html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const formAttributes = attributesOf(match[1] ?? "");
    if (formAttributes.get("id") !== id) continue;
    const fields = new URLSearchParams();
    for (const input of (match[2] ?? "").matchAll(/<input\b([^>]*)>/gi)) {
      const inputAttributes = attributesOf(input[1] ?? "");
      const name = inputAttributes.get("name");
      if (name !== undefined) fields.append(name, inputAttributes.get("value") ?? "");
    }
    return { action: new URL(formAttributes.get("action") ?? page.url.href, page.url), fields };
  }
  return undefined;
}

/** The visible text of a page, shortened, for error messages. */
function pageText(page: Page): string {
  const text = page.html
    .replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, " ")
    .replace(/<[^>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return decodeEntities(text).slice(0, 300);
}

/** One browser session: a cookie jar and a redirect-following request loop. */
class HeadlessBrowser {
  readonly #jar = new CookieJar();

  /**
   * Requests `url` and follows redirects until a page is answered, or until a redirect points at a URL for which
   * `isDestination` holds; that URL is then returned without being requested.
   */
  async navigate(
    url: URL,
    form: URLSearchParams | undefined,
    isDestination: (url: URL) => boolean = () => false,
  ): Promise<Page | Destination> {
    let current = url;
    let body = form;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop += 1) {
      const headers = new Headers({ accept: "text/html" });
      const cookie = this.#jar.headerFor(current);
      if (cookie !== undefined) headers.set("cookie", cookie);
      if (body !== undefined) headers.set("content-type", "application/x-www-form-urlencoded");
      const response = await fetch(current, {
        method: body === undefined ? "GET" : "POST",
        headers,
        redirect: "manual",
        ...(body === undefined ? {} : { body: body.toString() }),
      });
      this.#jar.storeFrom(current, response.headers);
      const location = response.headers.get("location");
      if (!REDIRECT_STATUSES.has(response.status) || location === null) {
        return { kind: "page", url: current, status: response.status, html: await response.text() };
      }
      await response.arrayBuffer();
      const next = new URL(location, current);
      if (isDestination(next)) return { kind: "destination", url: next };
      if (response.status !== 307 && response.status !== 308) body = undefined;
      current = next;
    }
    throw new HeadlessUserError(`more than ${MAX_REDIRECTS} redirects starting at ${url.origin}${url.pathname}`);
  }

  async open(url: URL, form?: URLSearchParams): Promise<Page> {
    const outcome = await this.navigate(url, form);
    if (outcome.kind !== "page") throw new HeadlessUserError("unexpected redirect destination");
    return outcome;
  }
}

/**
 * Approves an authorization request as the signed-in demo user. Follows authorization endpoint → interaction(s) →
 * authorization endpoint → redirect URI, and returns the final redirect URL (the client's callback carrying `code`,
 * `state` and `iss`, or `error`). The callback is requested only with `deliver: true`.
 */
export async function approveAuthorization(
  authorizationUrl: string,
  options: ApproveAuthorizationOptions = {},
): Promise<string> {
  const start = new URL(authorizationUrl);
  const redirectParameter = start.searchParams.get("redirect_uri");
  const redirectTarget = redirectParameter === null ? null : URL.parse(redirectParameter);
  const isDestination = (url: URL): boolean =>
    url.origin !== start.origin ||
    (redirectTarget !== null && url.origin === redirectTarget.origin && url.pathname === redirectTarget.pathname);

  const outcome = await new HeadlessBrowser().navigate(start, undefined, isDestination);
  if (outcome.kind === "page") {
    throw new HeadlessUserError(
      `authorization stopped at ${outcome.url.pathname} with HTTP ${outcome.status}: ${pageText(outcome)}`,
    );
  }
  if (options.deliver === true) {
    const response = await fetch(outcome.url, { redirect: "manual" });
    await response.arrayBuffer();
    if (response.status >= 400) {
      throw new HeadlessUserError(`the redirect URI answered HTTP ${response.status}`);
    }
  }
  return outcome.url.href;
}

/** Opens the verification page, enters the user code and returns the confirmation form. */
async function enterUserCode(
  browser: HeadlessBrowser,
  server: AuthorizationServerAddress,
  userCode: string,
): Promise<HtmlForm> {
  const inputPage = await browser.open(new URL(ROUTES.deviceVerification, server.issuer));
  const inputForm = findForm(inputPage, "op.deviceInputForm");
  if (inputForm === undefined) {
    throw new HeadlessUserError(`no user code form on the verification page (HTTP ${inputPage.status})`);
  }
  inputForm.fields.set("user_code", userCode);
  const confirmPage = await browser.open(inputForm.action, inputForm.fields);
  const confirmForm = findForm(confirmPage, "op.deviceConfirmForm");
  if (confirmForm === undefined) {
    throw new HeadlessUserError(
      `the user code was not accepted (HTTP ${confirmPage.status}): ${pageText(confirmPage)}`,
    );
  }
  return confirmForm;
}

/**
 * Approves a device authorization like a person at a browser: enters the user code on the verification page,
 * confirms it, and lets the server's interactions log in the demo user and grant consent. Resolves once the
 * success page is shown; the device's next poll then receives tokens.
 */
export async function approveDeviceCode(server: AuthorizationServerAddress, userCode: string): Promise<void> {
  const browser = new HeadlessBrowser();
  const confirmForm = await enterUserCode(browser, server, userCode);
  const finalPage = await browser.open(confirmForm.action, confirmForm.fields);
  if (finalPage.status !== 200 || findForm(finalPage, "op.deviceInputForm") !== undefined) {
    throw new HeadlessUserError(`device approval failed (HTTP ${finalPage.status}): ${pageText(finalPage)}`);
  }
}

/**
 * Denies a device authorization: enters the user code, then presses "Abort" on the confirmation page. The device's
 * next poll receives `access_denied`.
 */
export async function denyDeviceCode(server: AuthorizationServerAddress, userCode: string): Promise<void> {
  const browser = new HeadlessBrowser();
  const confirmForm = await enterUserCode(browser, server, userCode);
  confirmForm.fields.set("abort", "yes");
  const finalPage = await browser.open(confirmForm.action, confirmForm.fields);
  // oidc-provider answers an abort by showing the code input page again, with a "request interrupted" message.
  if (finalPage.status !== 200 || findForm(finalPage, "op.deviceInputForm") === undefined) {
    throw new HeadlessUserError(`device denial failed (HTTP ${finalPage.status}): ${pageText(finalPage)}`);
  }
}
