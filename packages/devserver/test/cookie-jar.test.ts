/**
 * Tests of the headless user's cookie jar: host and path matching, expiry and deletion.
 */
import { describe, expect, it } from "vitest";
import { CookieJar } from "../src/index.ts";

const site = new URL("http://127.0.0.1:4000/auth/abc");

describe("CookieJar", () => {
  it("headerFor - should send a cookie only on its host and under its path", () => {
    const jar = new CookieJar();
    jar.store(site, "_interaction=one; path=/interaction/abc; httponly; samesite=lax");
    jar.store(site, "_session=two; path=/; httponly");

    expect(jar.headerFor(new URL("http://127.0.0.1:4000/interaction/abc"))).toBe("_interaction=one; _session=two");
    expect(jar.headerFor(new URL("http://127.0.0.1:4000/interaction/abcd"))).toBe("_session=two");
    expect(jar.headerFor(new URL("http://127.0.0.1:9999/token"))).toBe("_session=two");
    expect(jar.headerFor(new URL("http://localhost:4000/token"))).toBeUndefined();
  });

  it("store - should delete a cookie set again with an expiry in the past", () => {
    const jar = new CookieJar();
    jar.store(site, "_session=two; path=/");
    jar.store(site, "_session=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT");
    expect(jar.headerFor(site)).toBeUndefined();
  });

  it("headerFor - should stop sending a cookie once its Max-Age has passed", () => {
    let now = 1_000_000;
    const jar = new CookieJar(() => now);
    jar.store(site, "short=lived; path=/; max-age=60");
    expect(jar.headerFor(site)).toBe("short=lived");
    now += 61_000;
    expect(jar.headerFor(site)).toBeUndefined();
  });

  it("store - should default the path to the directory of the request", () => {
    const jar = new CookieJar();
    jar.store(site, "scoped=yes");
    expect(jar.headerFor(new URL("http://127.0.0.1:4000/auth/other"))).toBe("scoped=yes");
    expect(jar.headerFor(new URL("http://127.0.0.1:4000/token"))).toBeUndefined();
  });
});
