/**
 * The canary scan (I8): every token the authorization server issued during a session of logins, refreshes,
 * failures, debug output, replay, status, error paths and a crash is looked for everywhere outside the secret store
 * — every file under BATON_HOME and every stdout/stderr — and must appear nowhere. `baton token`'s stdout is the one
 * place a token may be printed.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  accountDir,
  addProvider,
  loginHeadless,
  REF,
  readSecretRecord,
  sleep,
  waitUntilExpired,
} from "../support/account.ts";
import { type BatonResult, runBaton, startBaton, tempHome } from "../support/baton-cli.ts";

let server: AuthorizationServer;
beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: 3, latencyMs: 20 });
});
afterAll(async () => {
  await server?.stop();
});

const listFiles = async (dir: string): Promise<Array<string>> => {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const files: Array<string> = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(path)));
    else files.push(path);
  }
  return files;
};

it("canary scan - should find no token outside the secret store after logins, refreshes, failures, debug output and a crash", async () => {
  const { home, cleanup } = await tempHome();
  const outputs: Array<{ readonly what: string; readonly text: string }> = [];
  const secrets = new Set<string>();
  const remember = async () => {
    const record = await readSecretRecord(home).catch(() => undefined);
    for (const key of ["accessToken", "refreshToken"]) {
      const value = record?.[key];
      if (typeof value === "string") secrets.add(value);
    }
  };
  const baton = async (
    what: string,
    args: ReadonlyArray<string>,
    env: Record<string, string> = {},
    tokenOnStdout = false,
  ) => {
    const result: BatonResult = await runBaton(args, { home, env: { BATON_DEBUG: "1", ...env }, timeoutMs: 30_000 });
    outputs.push({ what: `${what} (stderr)`, text: result.stderr });
    if (tokenOnStdout) secrets.add(result.stdout.trim());
    else outputs.push({ what: `${what} (stdout)`, text: result.stdout });
    await remember();
    return result;
  };
  try {
    await addProvider(home, server);
    await loginHeadless(home);
    await remember();
    await baton("status", ["status", REF]);
    await waitUntilExpired(home);
    expect((await baton("token after expiry", ["token", REF], {}, true)).code).toBe(0);
    expect((await baton("forced refresh", ["refresh", REF])).code).toBe(0);
    await baton("status --json", ["status", "--json"]);
    await baton("replay", ["replay", REF]);
    await baton("replay --json", ["replay", "--json"]);
    await baton("exec", ["exec", REF, "--", "sh", "-c", 'test -n "$BATON_ACCESS_TOKEN"']);

    // A 503 answer on an expired token: retryable, token kept, message on stderr.
    await waitUntilExpired(home);
    server.failNextTokenRequests(1, 503, 2);
    expect((await baton("refresh during a 503", ["token", REF], {}, true)).code).toBe(4);

    // A crash after the server rotated: the next process reports the in-doubt claim.
    await sleep(2_100);
    let killed = false;
    const { child, done } = startBaton(["token", REF], {
      home,
      env: { BATON_TEST_HOOK: "answered:hang", BATON_DEBUG: "1" },
      onStderr: (text, proc) => {
        if (!killed && text.includes("BATON_HOOK answered")) {
          killed = true;
          proc.kill("SIGKILL");
        }
      },
    });
    const crashed = await done;
    outputs.push(
      { what: "crashed holder (stderr)", text: crashed.stderr },
      { what: "crashed holder (stdout)", text: crashed.stdout },
    );
    expect(child.killed || crashed.signal === "SIGKILL").toBe(true);
    expect((await baton("after the crash", ["token", REF], {}, true)).code).toBe(3);
    await baton("status after the crash", ["status", REF, "--json"]);
    await baton("replay after the crash", ["replay", REF]);

    // Bad input and unknown things.
    await baton("unknown provider", ["token", "nope:x"], {}, true);
    await baton("malformed ref", ["token", "a:b:c"], {}, true);

    // Scan.
    const tokens = [...secrets].filter((s) => s.length >= 16);
    expect(tokens.length).toBeGreaterThanOrEqual(6);
    const secretStore = join(accountDir(home), "secret.json");
    const files = (await listFiles(home)).filter((file) => file !== secretStore);
    const places: Array<{ readonly what: string; readonly text: string }> = [...outputs];
    for (const file of files) {
      if ((await stat(file)).size > 5_000_000) continue;
      places.push({ what: relative(home, file), text: await readFile(file, "latin1") });
    }
    const hits = places.flatMap((place) => tokens.filter((t) => place.text.includes(t)).map(() => place.what));
    console.info(
      `canary scan: ${tokens.length} tokens, ${places.length} places (${files.length} files, ${outputs.length} outputs), ${hits.length} hits`,
    );
    expect(hits).toEqual([]);
  } finally {
    await cleanup();
  }
}, 120_000);
