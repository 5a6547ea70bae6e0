/**
 * A broker and its clients on different machines (issue #16): the broker in one network namespace, listening on its
 * address over TCP with TLS (a certificate made for this run with openssl), thin clients in another namespace with an
 * empty home, a client token and the certificate in NODE_EXTRA_CA_CERTS. They borrow tokens; a client that does not
 * trust the certificate, or has no token, is refused with exit 2; plain TCP off loopback is refused by the broker; and
 * when the network is cut, a client gives up with exit 4 within seconds (the connection attempt gets no answer at all,
 * not even a reset).
 *
 * The authorization server stays on the test machine's loopback, which the namespaces cannot reach: its access tokens
 * live 10 minutes here, so the broker lends without refreshing (its refreshes are the other tests' subject).
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type LoggedInAccount, loggedInAccount, REF, readSecretRecord } from "../support/account.ts";
import { BATON, runBaton } from "../support/baton-cli.ts";
import { type ProcessResult, runProcess } from "../support/child-process.ts";
import { createNetwork, type NetworkHost, netnsUnavailableReason, type TestNetwork } from "../support/netns.ts";
import { clientToken, emptyHome, filesBelow, type RunningBroker, startBroker, stopBroker } from "./broker-support.ts";

const opensslMissing = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return undefined;
  } catch {
    return "openssl is missing: run scripts/system-deps.sh";
  }
})();
const unavailable = netnsUnavailableReason() ?? opensslMissing;
const title = (name: string) => (unavailable === undefined ? name : `${name} (skipped: ${unavailable})`);
const PORT = 8443;

let server: AuthorizationServer;
let account: LoggedInAccount;
let network: TestNetwork;
let brokerHost: NetworkHost;
let clientHost: NetworkHost;
let broker: RunningBroker;
let certificates: string;
let token: string;

beforeAll(async () => {
  if (unavailable !== undefined) return;
  server = await startAuthorizationServer({ accessTokenTtlSeconds: 600 });
  account = await loggedInAccount(server);
  network = await createNetwork({ hosts: 2 });
  [brokerHost, clientHost] = network.hosts as [NetworkHost, NetworkHost];
  certificates = await mkdtemp(join(tmpdir(), "baton-tls-"));
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"],
      ...["-keyout", join(certificates, "key.pem"), "-out", join(certificates, "cert.pem")],
      ...["-subj", "/CN=baton test broker", "-addext", `subjectAltName=IP:${brokerHost.address}`],
    ],
    { stdio: "ignore" },
  );
  token = await clientToken(account.home, "ci-runner");
  broker = await startBroker(
    account.home,
    [
      ...["--listen", `${brokerHost.address}:${PORT}`],
      ...["--tls-cert", join(certificates, "cert.pem"), "--tls-key", join(certificates, "key.pem")],
    ],
    { prefix: brokerHost.prefix },
  );
});

afterAll(async () => {
  if (broker !== undefined) await stopBroker(broker);
  await network?.dispose();
  if (certificates !== undefined) await rm(certificates, { recursive: true, force: true });
  await account?.cleanup();
  await server?.stop();
});

/** `baton ARGS` on the client machine, in an empty home, as a thin client of the broker. */
const onClient = async (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>> = {},
  home?: string,
): Promise<ProcessResult> => {
  const own = home ?? (await emptyHome());
  try {
    const [command = "ip", ...prefix] = clientHost.prefix;
    return await runProcess(command, [...prefix, process.execPath, BATON, ...args], {
      env: {
        BATON_HOME: own,
        BATON_SERVER: broker.server,
        BATON_SERVER_TOKEN: token,
        NODE_EXTRA_CA_CERTS: join(certificates, "cert.pem"),
        NO_COLOR: "1",
        ...env,
      },
      timeoutMs: 60_000,
    });
  } finally {
    if (home === undefined) await rm(own, { recursive: true, force: true });
  }
};

it.skipIf(unavailable !== undefined)(
  title("a client on another machine - should borrow the token over TCP with TLS and write nothing"),
  async () => {
    expect(broker.server).toBe(`https://${brokerHost.address}:${PORT}`);
    const accessToken = String((await readSecretRecord(account.home)).accessToken);
    const home = await emptyHome();
    try {
      expect(await onClient(["token", REF], {}, home)).toMatchObject({ code: 0, stdout: `${accessToken}\n` });
      const exec = await onClient(["exec", REF, "--", "sh", "-c", 'printf %s "$BATON_ACCESS_TOKEN"'], {}, home);
      expect(exec).toMatchObject({ code: 0, stdout: accessToken });
      expect(await filesBelow(home)).toEqual([]);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  },
);

it.skipIf(unavailable !== undefined)(
  title("a client that does not trust the certificate, or has no client token - should be refused with exit 2"),
  async () => {
    const untrusted = await onClient(["token", REF], { NODE_EXTRA_CA_CERTS: undefined });
    expect(untrusted.code).toBe(2);
    expect(untrusted.stderr).toContain("cannot be trusted");
    expect(untrusted.stdout).toBe("");
    const anonymous = await onClient(["token", REF], { BATON_SERVER_TOKEN: undefined });
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderr).toContain("needs a client token over TCP");
  },
);

it.skipIf(unavailable !== undefined)(
  title("baton serve on a network address without TLS - should refuse to start, even with --insecure-loopback"),
  async () => {
    for (const flags of [[], ["--insecure-loopback"]]) {
      const refused = await runBaton(["serve", "--listen", `${brokerHost.address}:${PORT + 1}`, ...flags], {
        home: account.home,
        timeoutMs: 30_000,
      });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/needs TLS|is not a loopback address/);
    }
  },
);

it.skipIf(unavailable !== undefined)(
  title("a broker cut off the network - should be exit 4 within a few seconds, and serve again when back"),
  async () => {
    await network.cut(brokerHost);
    try {
      const startedAt = performance.now();
      const cut = await onClient(["token", REF]);
      const elapsedMs = performance.now() - startedAt;
      expect(cut.code).toBe(4);
      expect(cut.stderr).toContain("did not take the connection within 3 s (down or unreachable)");
      expect(elapsedMs).toBeLessThan(6_000);
    } finally {
      await network.restore(brokerHost);
    }
    expect((await onClient(["token", REF])).code).toBe(0);
  },
);
