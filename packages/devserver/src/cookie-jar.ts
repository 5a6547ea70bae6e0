/**
 * A minimal cookie jar for the headless user: stores `Set-Cookie` answers and replays them on later requests.
 *
 * Written here rather than taken from a library because the headless user only talks to the local authorization
 * server and follows a handful of redirects: host-only cookies, Path matching, Max-Age/Expires and deletion are all
 * it needs (RFC 6265 sections 5.1.4 and 5.3, without Domain, Secure or public-suffix handling). Like browsers, it
 * keys cookies by host name, not port.
 */

interface StoredCookie {
  readonly name: string;
  readonly value: string;
  readonly host: string;
  readonly path: string;
  readonly expiresAt: number | undefined;
}

/** RFC 6265 section 5.1.4: the directory of the request path. */
function defaultPath(url: URL): string {
  const path = url.pathname;
  if (!path.startsWith("/") || path.lastIndexOf("/") === 0) return "/";
  return path.slice(0, path.lastIndexOf("/"));
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || requestPath.charAt(cookiePath.length) === "/";
}

function parseExpiry(attributes: ReadonlyMap<string, string>, now: number): number | undefined {
  const maxAge = attributes.get("max-age");
  if (maxAge !== undefined && /^-?\d+$/.test(maxAge)) return now + Number(maxAge) * 1000;
  const expires = attributes.get("expires");
  if (expires !== undefined) {
    const time = Date.parse(expires);
    if (!Number.isNaN(time)) return time;
  }
  return undefined;
}

function parseSetCookie(header: string, url: URL, now: number): StoredCookie | undefined {
  const [pair = "", ...attributeTexts] = header.split(";");
  const separator = pair.indexOf("=");
  if (separator <= 0) return undefined;
  const attributes = new Map<string, string>();
  for (const text of attributeTexts) {
    const equals = text.indexOf("=");
    const key = (equals === -1 ? text : text.slice(0, equals)).trim().toLowerCase();
    attributes.set(key, equals === -1 ? "" : text.slice(equals + 1).trim());
  }
  const path = attributes.get("path");
  return {
    name: pair.slice(0, separator).trim(),
    value: pair.slice(separator + 1).trim(),
    host: url.hostname,
    path: path?.startsWith("/") ? path : defaultPath(url),
    expiresAt: parseExpiry(attributes, now),
  };
}

export class CookieJar {
  readonly #cookies = new Map<string, StoredCookie>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Records every `Set-Cookie` header of a response received from `url`. */
  storeFrom(url: URL, headers: Headers): void {
    for (const header of headers.getSetCookie()) this.store(url, header);
  }

  /** Records one `Set-Cookie` header value; an already expired cookie deletes the stored one. */
  store(url: URL, setCookieHeader: string): void {
    const now = this.#now();
    const cookie = parseSetCookie(setCookieHeader, url, now);
    if (cookie === undefined) return;
    const key = `${cookie.host} ${cookie.path} ${cookie.name}`;
    if (cookie.expiresAt !== undefined && cookie.expiresAt <= now) {
      this.#cookies.delete(key);
    } else {
      this.#cookies.set(key, cookie);
    }
  }

  /** The `Cookie` header value for a request to `url`, or undefined when no cookie applies. */
  headerFor(url: URL): string | undefined {
    const now = this.#now();
    const matching: StoredCookie[] = [];
    for (const [key, cookie] of this.#cookies) {
      if (cookie.expiresAt !== undefined && cookie.expiresAt <= now) {
        this.#cookies.delete(key);
      } else if (cookie.host === url.hostname && pathMatches(url.pathname, cookie.path)) {
        matching.push(cookie);
      }
    }
    if (matching.length === 0) return undefined;
    // RFC 6265 section 5.4: longer paths first.
    matching.sort((left, right) => right.path.length - left.path.length);
    return matching.map((cookie) => `${cookie.name}=${cookie.value}`).join("; ");
  }
}
