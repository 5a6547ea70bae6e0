/**
 * Many machines, one account, one PostgreSQL store: four "machines" (separate BATON_HOMEs and machine ids, sharing
 * nothing but BATON_STORE and its key) against oidc-provider with rotating refresh tokens and reuse detection.
 *
 * - log in once on one machine; `baton token` on the others just works, with nothing else configured;
 * - a herd of 16 processes on 4 machines after expiry: one refresh, one token for all, the claim and the stored
 *   generation named by machine in `replay`, `status` saying storage `postgres`;
 * - the other commands on the database: `status`, `replay`, `doctor`, `store status`, `rebuild`, `clean`, `export` /
 *   `import`, `logout`.
 */
import { createHash } from "node:crypto";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REF } from "../support/account.ts";
import { type PostgresServer, postgresUnavailableReason, startPostgres } from "../support/postgres.ts";
import { herdOn, loginOn, on, replayOn, type SharedStore, sharedStore, statusOn, untilExpired } from "./support.ts";

const unavailable = postgresUnavailableReason();
const fp = (secret: string) => createHash("sha256").update(secret).digest("hex").slice(0, 8);

let postgres: PostgresServer;
let server: AuthorizationServer;
let store: SharedStore;

describe.skipIf(unavailable !== undefined)(
  `many machines, one PostgreSQL store${unavailable === undefined ? "" : ` (skipped: ${unavailable})`}`,
  () => {
    beforeAll(async () => {
      [postgres, server] = await Promise.all([
        startPostgres(),
        startAuthorizationServer({ accessTokenTtlSeconds: 4, latencyMs: 100 }),
      ]);
      store = await sharedStore(postgres, 4);
      const [first] = store.machines;
      if (first === undefined) throw new Error("no machine");
      await loginOn(first, server);
    });
    afterAll(async () => {
      await store?.cleanup();
      await Promise.all([server?.stop(), postgres?.stop()]);
    });

    it("baton token - should work on every machine after one login on one, all holding the same token", async () => {
      const results = await Promise.all(store.machines.map((machine) => on(machine, ["token", REF])));
      expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0]);
      expect(new Set(results.map((r) => r.stdout.trim())).size).toBe(1);
      const seen = await statusOn(store.machines[3] ?? store.machines[0]!);
      expect(seen).toMatchObject({ state: "valid", storage: "postgres", generation: 1, default: true });
    });

    it("herd - should make one refresh for 16 processes on 4 machines, every one holding the new token", async () => {
      const watcher = store.machines[0]!;
      await untilExpired(watcher);
      const before = server.counters();
      const results = await herdOn(store.machines, 4);
      const after = server.counters();
      expect(results.map((r) => r.code)).toEqual(Array.from({ length: 16 }, () => 0));
      const tokens = new Set(results.map((r) => r.stdout.trim()));
      expect(tokens.size).toBe(1);
      expect(after.refreshGrants - before.refreshGrants).toBe(1);
      expect(after.reuseErrors - before.reuseErrors).toBe(0);

      const [printed = ""] = tokens;
      expect(await statusOn(store.machines[2]!)).toMatchObject({
        state: "valid",
        generation: 2,
        storage: "postgres",
        accessFp: fp(printed),
      });
      const timeline = await replayOn(store.machines[1]!);
      const claimed = timeline.events.filter((e) => e.type === "refresh.claimed");
      const stored = timeline.events.filter((e) => e.type === "credentials.stored" && e.source === "refresh");
      expect(claimed).toHaveLength(1);
      expect(stored).toHaveLength(1);
      // The machine that claimed is the one that stored, named by its machine id.
      expect(claimed[0]?.host).toMatch(/^machine-[0-3]$/);
      expect(stored[0]).toMatchObject({ host: claimed[0]?.host, pid: claimed[0]?.pid, generation: 2 });
      expect(timeline.summary).toMatchObject({ refreshes: 1, inDoubt: 0, revoked: 0 });
      expect(timeline.anomalies.filter((a) => a.kind !== "lock-wait")).toEqual([]);
    });

    it("doctor and store status - should check the shared store: server, schema, key, no stuck claims", async () => {
      const machine = store.machines[2]!;
      const doctor = await on(machine, ["doctor", "--json"]);
      const report = JSON.parse(doctor.stdout) as {
        checks: ReadonlyArray<{ check: string; status: string; message: string }>;
        exitCode: number;
      };
      const byCheck = (name: string) => report.checks.filter((c) => c.check === name).map((c) => c.status);
      expect(byCheck("store")).toEqual(["ok"]);
      expect(byCheck("schema")).toEqual(["ok"]);
      expect(byCheck("key")).toEqual(["ok"]);
      expect(byCheck("in-doubt")).toEqual([]);
      expect(byCheck("account")).toEqual(["ok"]);
      expect(report.exitCode).toBe(0);
      expect(doctor.code).toBe(0);

      const status = await on(machine, ["store", "status", "--json"]);
      expect(status.code).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({
        schemaVersion: 3,
        knownSchemaVersion: 3,
        key: "ok",
        accounts: [{ account: REF, generation: 2 }],
        stuckClaims: [],
      });
    });

    it("rebuild, clean, export and import - should work against the database", async () => {
      const machine = store.machines[3]!;
      const rebuilt = await on(machine, ["rebuild", "--json"]);
      expect(rebuilt.code).toBe(0);
      expect(JSON.parse(rebuilt.stdout)).toMatchObject({
        providers: [{ provider: "demo", action: "kept" }],
        defaults: [{ provider: "demo", account: "you", action: "kept" }],
      });
      const clean = await on(machine, ["clean", "--json"]);
      expect(clean.code).toBe(0);
      expect(JSON.parse(clean.stdout)).toMatchObject({ accounts: [], sessions: [] });

      const exported = await on(machine, ["export", REF], { BATON_PASSPHRASE: "correct horse battery staple" });
      expect(exported.code).toBe(0);
      expect(exported.stdout).not.toContain((await on(machine, ["token", REF])).stdout.trim());
      // An encrypted export made on one machine imports on another, into the same store, under another name.
      const imported = await runWithInput(store.machines[0]!, ["import", "demo:copy", "-"], exported.stdout);
      expect(imported.code).toBe(0);
      expect(await statusOnAccount(machine, "demo:copy")).toMatchObject({ storage: "postgres", state: "valid" });
    });
  },
);

const runWithInput = async (machine: SharedStore["machines"][number], args: ReadonlyArray<string>, input: string) => {
  const { runBaton } = await import("../support/baton-cli.ts");
  return runBaton(args, {
    home: machine.home,
    env: { ...machine.env, BATON_PASSPHRASE: "correct horse battery staple" },
    input,
    timeoutMs: 30_000,
  });
};

const statusOnAccount = async (machine: SharedStore["machines"][number], ref: string) => {
  const result = await on(machine, ["status", ref, "--json"]);
  if (result.code !== 0) throw new Error(`status ${ref}: ${result.stderr}`);
  return (JSON.parse(result.stdout) as { accounts: ReadonlyArray<Record<string, unknown>> }).accounts[0];
};
