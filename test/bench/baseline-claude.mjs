/**
 * BASELINE, not baton: the refresh algorithm of the "Claude Code analysis (seed 003)" row of SPEC §7, as one child
 * process of the herd benchmark. Tokens live in ONE JSON file (`HOME/credentials.json`: accessToken, refreshToken,
 * expiresAt). On each call:
 *   1. read the file (outside any lock: a concurrent non-atomic write can be seen half-done — a "torn read", counted
 *      and re-read after 5 ms, at most 20 times);
 *   2. if less than a FIXED 5-minute buffer remains (so with 6 s tokens: always), lock the directory with
 *      proper-lockfile; when it is locked, retry up to 5 times after random 1–2 s waits, then GIVE UP and carry on
 *      with the old token (counted);
 *   3. under the lock re-read the file; if it still needs a refresh (always, with the 5-minute buffer), POST
 *      grant_type=refresh_token to the token endpoint with plain fetch, write the file with a non-atomic
 *      writeFileSync, unlock.
 * Prints `TOKEN <token>` and then `STATS <json>` on stdout.
 *
 * Usage: node baseline-claude.mjs HOME TOKEN_ENDPOINT CLIENT_ID [--barrier]
 * With --barrier it loads everything, prints READY and waits for a line on stdin first (120 s at most).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const [home, tokenEndpoint, clientId, mode] = process.argv.slice(2);
const adapters = fileURLToPath(new URL("../../packages/adapters/package.json", import.meta.url));
const lockfile = createRequire(adapters)("proper-lockfile");

const BUFFER_MS = 5 * 60 * 1000;
const RETRIES = 5;
const file = join(home, "credentials.json");
const stats = { refreshed: 0, refreshFailed: 0, gaveUp: false, lockRetries: 0, tornReads: 0, compromised: 0 };

const readCredentials = async () => {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      return JSON.parse(readFileSync(file, "utf8"));
    } catch {
      stats.tornReads += 1;
      await sleep(5);
    }
  }
  throw new Error("credentials.json stayed unreadable");
};

const needsRefresh = (credentials) => credentials.expiresAt - Date.now() < BUFFER_MS;

const lockWithRetries = async () => {
  for (let attempt = 0; ; attempt++) {
    try {
      return await lockfile.lock(home, {
        lockfilePath: join(home, "credentials.lock"),
        onCompromised: () => {
          stats.compromised += 1;
        },
      });
    } catch (error) {
      if (error.code !== "ELOCKED") throw error;
      if (attempt >= RETRIES) return undefined;
      stats.lockRetries += 1;
      await sleep(1000 + Math.random() * 1000);
    }
  }
};

const refresh = async (credentials) => {
  const response = await fetch(tokenEndpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams({
      grant_type: "refresh_token",
      client_id: clientId,
      refresh_token: credentials.refreshToken,
    }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || typeof body.access_token !== "string") {
    stats.refreshFailed += 1;
    stats.lastError = body.error ?? `HTTP ${response.status}`;
    return credentials;
  }
  stats.refreshed += 1;
  const next = {
    accessToken: body.access_token,
    refreshToken: body.refresh_token ?? credentials.refreshToken,
    expiresAt: Date.now() + (body.expires_in ?? 3600) * 1000,
  };
  writeFileSync(file, JSON.stringify(next)); // non-atomic, as in the analysis
  return next;
};

const accessToken = async () => {
  const credentials = await readCredentials();
  if (!needsRefresh(credentials)) return credentials.accessToken;
  const release = await lockWithRetries();
  if (release === undefined) {
    stats.gaveUp = true;
    return credentials.accessToken;
  }
  try {
    const current = await readCredentials();
    return needsRefresh(current) ? (await refresh(current)).accessToken : current.accessToken;
  } finally {
    await release().catch(() => undefined);
  }
};

const main = async () => {
  const token = await accessToken();
  process.stdout.write(`TOKEN ${token}\nSTATS ${JSON.stringify(stats)}\n`);
};

if (mode === "--barrier") {
  const giveUp = setTimeout(() => process.exit(3), 120_000);
  process.stdout.write("READY\n");
  let released = false;
  // The parent went away before GO (its end of the pipe closed): stop at once instead of waiting for the time limit.
  process.stdin.once("end", () => {
    if (!released) process.exit(3);
  });
  process.stdin.once("data", () => {
    released = true;
    clearTimeout(giveUp);
    process.stdin.pause();
    main().catch((error) => {
      process.stderr.write(`baseline failed: ${error.message}\n`);
      process.exitCode = 1;
    });
  });
} else {
  main().catch((error) => {
    process.stderr.write(`baseline failed: ${error.message}\n`);
    process.exitCode = 1;
  });
}
