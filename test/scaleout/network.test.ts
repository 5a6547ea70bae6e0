/**
 * Real separate hosts: two network namespaces joined by a bridge (test/support/netns.ts) — the PostgreSQL store on
 * host A, the baton processes (three "machines") and the authorization server on host B — and the link of B cut
 * while a refresh is in flight: the holder's request leaves just before the cut (the server answers 1.5 s later),
 * the answer arrives while the store is unreachable, and two more processes start during the cut. When the link comes
 * back, TCP carries on: the holder stores the new generation, every process holds it, one refresh, nothing in doubt,
 * and the token family is intact (a later refresh works).
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REF, type ReplayJson, sleep } from "../support/account.ts";
import { BATON, HOOKED_BATON } from "../support/baton-cli.ts";
import { type ProcessResult, startProcess } from "../support/child-process.ts";
import { createNetwork, type NetworkHost, netnsUnavailableReason, type TestNetwork } from "../support/netns.ts";
import { type PostgresServer, postgresUnavailableReason, startPostgres } from "../support/postgres.ts";
import { type Machine, type SharedStore, sharedStore } from "./support.ts";

const unavailable = netnsUnavailableReason() ?? postgresUnavailableReason();
const DEVSERVER = fileURLToPath(new URL("../../packages/devserver/src/standalone.ts", import.meta.url));
const LOGIN = fileURLToPath(new URL("./fixtures/login.ts", import.meta.url));
const LATENCY_MS = 1_500;
const TTL_S = 5;

let network: TestNetwork;
let postgres: PostgresServer;
let store: SharedStore;
let clients: NetworkHost;
let issuer: { issuer: string; clientId: string; scopes: string };
let devserver: ReturnType<typeof startProcess> | undefined;

/** Runs `node SCRIPT ARGS` inside host `on`, as `machine`. */
const inHost = (on: NetworkHost, machine: Machine, script: string, args: ReadonlyArray<string>, env = {}) => {
  const [command = "ip", ...prefix] = on.prefix;
  return startProcess(command, [...prefix, process.execPath, script, ...args], {
    env: { BATON_HOME: machine.home, NO_COLOR: "1", ...machine.env, ...env },
    timeoutMs: 90_000,
  });
};

const batonIn = (machine: Machine, args: ReadonlyArray<string>) => inHost(clients, machine, BATON, args).done;

const replayIn = async (machine: Machine): Promise<ReplayJson> => {
  const result = await batonIn(machine, ["replay", REF, "--json"]);
  const found = (JSON.parse(result.stdout) as { accounts: ReadonlyArray<ReplayJson> }).accounts[0];
  if (found === undefined) throw new Error(`replay: ${result.stderr}`);
  return found;
};

const exitOf = (r: ProcessResult) => `exit ${r.code}: ${r.stderr.trim()}`;

describe.skipIf(unavailable !== undefined)(
  `the network between machines and the store cut mid-refresh${unavailable === undefined ? "" : ` (skipped: ${unavailable})`}`,
  () => {
    beforeAll(async () => {
      network = await createNetwork({ hosts: 2 });
      const [databaseHost, clientHost] = network.hosts;
      if (databaseHost === undefined || clientHost === undefined) throw new Error("two hosts");
      clients = clientHost;
      postgres = await startPostgres({ netns: databaseHost.name, host: databaseHost.address });
      store = await sharedStore(postgres, 3, databaseHost.address);
      const [command = "ip", ...prefix] = clients.prefix;
      devserver = startProcess(
        command,
        [...prefix, process.execPath, DEVSERVER, "--access-ttl", String(TTL_S), "--latency", String(LATENCY_MS)],
        { stdin: "pipe", timeoutMs: 300_000 },
      );
      const line = await new Promise<string>((resolve, reject) => {
        devserver?.child.stdout?.on("data", (chunk: Buffer) => resolve(chunk.toString("utf8")));
        void devserver?.done.then((r) => reject(new Error(`devserver: ${r.stderr}`)));
      });
      const started = JSON.parse(line) as { issuer: string; clientId: string };
      issuer = { ...started, scopes: "openid offline_access profile" };
      const [first] = store.machines;
      if (first === undefined) throw new Error("no machine");
      const login = await inHost(clients, first, LOGIN, [issuer.issuer, issuer.clientId, issuer.scopes]).done;
      expect(login.code, exitOf(login)).toBe(0);
    });
    afterAll(async () => {
      devserver?.child.stdin?.end();
      await devserver?.done;
      await store?.cleanup();
      await postgres?.stop();
      await network?.dispose();
    });

    it("link cut while a refresh is in flight - should store the answer once the link is back, and every process adopt it", async () => {
      const [holderMachine, second, third] = store.machines;
      if (holderMachine === undefined || second === undefined || third === undefined) throw new Error("machines");
      // The login's generation expires; the next token request refreshes.
      await sleep(TTL_S * 1000 + 100);
      let announced = "";
      let reach: () => void = () => undefined;
      const reached = new Promise<void>((resolve) => {
        reach = resolve;
      });
      const holder = inHost(clients, holderMachine, HOOKED_BATON, ["token", REF], {
        BATON_TEST_HOOK: "presenting:stall-ms:1",
      });
      holder.child.stderr?.on("data", (chunk: Buffer) => {
        announced += chunk.toString("utf8");
        if (announced.includes("BATON_HOOK presenting\n")) reach();
      });
      await reached;
      await network.cut(clients);
      const cutAt = Date.now();
      await sleep(300);
      const followers = [second, third].map((machine) => batonIn(machine, ["token", REF]));
      await sleep(4_000);
      await network.restore(clients);
      const cutMs = Date.now() - cutAt;
      const results = [await holder.done, ...(await Promise.all(followers))];
      console.info(`[scaleout] link of the client host cut for ${cutMs} ms during the refresh`);
      for (const result of results) expect(result.code, exitOf(result)).toBe(0);
      expect(new Set(results.map((r) => r.stdout.trim())).size).toBe(1);

      const timeline = await replayIn(third);
      expect(timeline.events.filter((e) => e.type === "refresh.claimed")).toHaveLength(1);
      expect(timeline.events.filter((e) => e.type === "credentials.stored" && e.source === "refresh")).toHaveLength(1);
      expect(timeline.summary).toMatchObject({ refreshes: 1, inDoubt: 0, revoked: 0 });
      // The family is intact: the next rotation works (a reused token would have revoked the whole grant).
      const forced = await batonIn(second, ["refresh", REF]);
      expect(forced.code, exitOf(forced)).toBe(0);
      const after = await batonIn(third, ["token", REF]);
      expect(after.code, exitOf(after)).toBe(0);
      expect(after.stdout.trim()).not.toBe(results[0]?.stdout.trim());
    });
  },
);
