/**
 * Setting up an account the way a user does (the .mjs twin of test/support/account.ts): `baton provider add` against
 * the local authorization server, then `baton login --no-browser --no-device` with the URL read from its stderr and
 * approved by the devserver's headless user. Plus readers of the file store and the server's introspection endpoint.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { approveAuthorization } from "@baton/devserver";
import { BATON, fail, runBaton, sleep, startNode } from "./common.mjs";

export const PROVIDER = "demo";
export const ACCOUNT = "you";
export const REF = `${PROVIDER}:${ACCOUNT}`;

export const tempHome = async (label) => {
  const home = await mkdtemp(join(tmpdir(), `baton-bench-${label}-`));
  return { home, cleanup: () => rm(home, { recursive: true, force: true }) };
};

export const addProvider = async (home, server) => {
  // `--no-device-only` is spelled out: see test/support/account.ts (a Flag.Boolean without a default is required).
  const args = ["provider", "add", PROVIDER, "--issuer", server.issuer, "--client-id", server.clientId];
  args.push("--no-device-only", "--scope", server.scopes);
  const result = await runBaton(args, home, { timeoutMs: 30_000 });
  if (result.code !== 0) fail("baton provider add", result);
};

/** `baton login demo:you --no-browser --no-device`, approved headlessly. */
export const loginHeadless = async (home) => {
  let approval;
  let buffered = "";
  const { done } = startNode([BATON, "login", REF, "--no-browser", "--no-device"], {
    env: { BATON_HOME: home, BATON_STORAGE: "file" },
    timeoutMs: 30_000,
    onLine: (stream, line) => {
      if (stream !== "stderr") return;
      buffered += `${line}\n`;
      if (approval !== undefined) return;
      const url = /^(https?:\/\/\S+)$/m.exec(buffered)?.[1];
      if (url !== undefined) approval = approveAuthorization(url, { deliver: true }).catch((error) => error);
    },
  });
  const result = await done;
  const approved = await approval;
  if (approved instanceof Error) throw new Error(`approving the login failed: ${approved.message}`);
  if (approval === undefined) throw new Error(`baton login printed no URL: ${result.stderr.trim()}`);
  if (result.code !== 0) fail("baton login", result);
};

/** A temporary BATON_HOME with the provider registered and `demo:you` logged in. */
export const loggedInHome = async (server, label) => {
  const { home, cleanup } = await tempHome(label);
  await addProvider(home, server);
  await loginHeadless(home);
  return { home, cleanup };
};

export const accountDir = (home) => join(home, "accounts", PROVIDER, ACCOUNT);

/** baton's stored secret record (never printed: it holds tokens). */
export const readSecret = async (home) => JSON.parse(await readFile(join(accountDir(home), "secret.json"), "utf8"));

/** Sleeps until `expiresAt` (ms since the epoch) has passed by `marginMs`. */
export const sleepUntilExpired = async (expiresAt, marginMs = 50) => {
  const wait = expiresAt - Date.now() + marginMs;
  if (wait > 60_000) throw new Error(`refusing to wait ${wait} ms for a token to expire`);
  await sleep(wait);
};

/** Asks the server (introspection) whether `token` is active now: `{ active, exp (ms since the epoch) }`. */
export const introspectOne = async (server, token) => {
  const auth = Buffer.from(`${server.introspectionClient.clientId}:${server.introspectionClient.clientSecret}`);
  const response = await fetch(`${server.issuer}/token/introspection`, {
    method: "POST",
    headers: { authorization: `Basic ${auth.toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = await response.json();
  return { active: body.active === true, exp: typeof body.exp === "number" ? body.exp * 1000 : undefined };
};

/**
 * Tracks whether the tokens a herd printed were good: each distinct token is introspected as soon as it first
 * arrives (so a long round does not count a token that was valid when printed but expired since), and again at the
 * end of the round. A token counts as valid when it was active on arrival and, at the end, is still active or has
 * merely reached its own expiry — not revoked (reuse detection revokes the whole grant, tokens already handed out
 * included).
 */
export const tokenJudge = (server) => {
  const onArrival = new Map();
  return {
    arrived: (token) => {
      if (token === undefined || token === "" || onArrival.has(token)) return;
      onArrival.set(
        token,
        introspectOne(server, token).catch(() => ({ active: false, exp: undefined })),
      );
    },
    verdicts: async () => {
      const verdicts = new Map();
      for (const [token, first] of onArrival) {
        const atArrival = await first;
        const checkedAt = Date.now();
        const atEnd = atArrival.active ? await introspectOne(server, token) : { active: false };
        const expiredNaturally = atArrival.exp !== undefined && checkedAt >= atArrival.exp;
        verdicts.set(token, atArrival.active && (atEnd.active || expiredNaturally));
      }
      return verdicts;
    },
  };
};
