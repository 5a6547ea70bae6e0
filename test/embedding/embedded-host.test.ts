/**
 * An embedded host (the Promise facade) and CLI processes sharing one account on one BATON_HOME, against the real
 * local authorization server: one refresh per rotation across both, the host never handed an expired token, no
 * reuse; and the background timer refreshing before expiry with no call from the host.
 */

import { type Baton, type BatonEvent, createBaton } from "@baton/adapters";
import { fingerprint } from "@baton/core";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoggedInAccount, loggedInAccount, REF } from "../support/account.ts";
import { runBaton } from "../support/baton-cli.ts";

const TTL_SECONDS = 4;
let server: AuthorizationServer;

beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: TTL_SECONDS, latencyMs: 50 });
});
afterAll(async () => {
  await server?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("embedded host", () => {
  it("given a host and a stream of CLI processes, should rotate once per generation and never hand out an expired token", async () => {
    const account: LoggedInAccount = await loggedInAccount(server);
    const baton: Baton = await createBaton({
      home: account.home,
      storage: "file",
      prefetch: [REF],
      backgroundRefresh: false,
    });
    const expiries = new Map<string, number>();
    baton.subscribe((event: BatonEvent) => {
      if (event.type === "credentials") expiries.set(event.summary.accessFp, event.summary.expiresAt);
    });
    const before = server.counters();
    const expiredHandOuts: Array<number> = [];
    let calls = 0;
    const deadline = Date.now() + 5.5 * TTL_SECONDS * 1000;
    const host = (async () => {
      while (Date.now() < deadline) {
        const token = await baton.accessToken(REF);
        calls += 1;
        const expiresAt = expiries.get(fingerprint(token));
        if (expiresAt !== undefined && Date.now() >= expiresAt) expiredHandOuts.push(Date.now() - expiresAt);
        await sleep(25);
      }
    })();
    const cli = (async () => {
      const codes: Array<number> = [];
      while (Date.now() < deadline) {
        const results = await Promise.all([0, 1].map(() => runBaton(["token", REF], { home: account.home })));
        codes.push(...results.map((r) => r.code));
        await sleep(300);
      }
      return codes;
    })();
    const [, codes] = await Promise.all([host, cli]);
    const status = await baton.status(REF);
    const after = server.counters();
    await baton.close();
    await account.cleanup();

    const generation = status[0]?.generation ?? 0;
    const grants = after.refreshGrants - before.refreshGrants;
    console.info(
      `embedded host: ${calls} accessToken calls, ${codes.length} CLI runs, ${grants} refresh grants, generation ${generation}`,
    );
    expect(generation - 1).toBeGreaterThanOrEqual(5);
    expect(grants).toBe(generation - 1);
    expect(after.reuseErrors - before.reuseErrors).toBe(0);
    expect(codes.every((code) => code === 0)).toBe(true);
    expect(expiredHandOuts).toEqual([]);
  }, 120_000);

  it("given only a prefetch, should refresh in the background before expiry with no call from the host", async () => {
    const account = await loggedInAccount(server);
    const baton = await createBaton({ home: account.home, storage: "file", prefetch: [REF] });
    const events: Array<BatonEvent> = [];
    baton.subscribe((event) => events.push(event));
    const [first] = await baton.status(REF);
    const before = server.counters();
    const refreshed = new Promise<BatonEvent>((resolve) =>
      baton.subscribe((event) => {
        if (event.type === "credentials" && event.how === "refreshed") resolve(event);
      }),
    );
    const event = await Promise.race([refreshed, sleep(3 * TTL_SECONDS * 1000).then(() => undefined)]);
    const at = Date.now();
    const after = server.counters();
    await baton.close();
    await account.cleanup();

    expect(event).toBeDefined();
    expect(after.refreshGrants - before.refreshGrants).toBe(1);
    expect(first?.expiresAt).toBeDefined();
    expect(at).toBeLessThan(first?.expiresAt ?? 0);
    expect(events.some((e) => e.type === "background-error")).toBe(false);
  }, 60_000);
});
