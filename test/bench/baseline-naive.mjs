/**
 * BASELINE, not baton: the "naive" row of SPEC §7 (Codex-style, no cross-process lock), as one child process of the
 * herd benchmark. Reads `HOME/credentials.json`; if the access token has expired it POSTs grant_type=refresh_token
 * with the stored refresh token and writes the file back (writeFileSync). Concurrent processes therefore present the
 * same rotating refresh token; the server's reuse detection revokes the whole grant. Prints `TOKEN <token>` and
 * `STATS <json>` on stdout.
 *
 * Usage: node baseline-naive.mjs HOME TOKEN_ENDPOINT CLIENT_ID [--barrier]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [home, tokenEndpoint, clientId, mode] = process.argv.slice(2);
const file = join(home, "credentials.json");
const stats = { refreshed: 0, refreshFailed: 0, tornReads: 0 };

const read = () => {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      return JSON.parse(readFileSync(file, "utf8"));
    } catch {
      stats.tornReads += 1;
    }
  }
  throw new Error("credentials.json stayed unreadable");
};

const main = async () => {
  const credentials = read();
  let token = credentials.accessToken;
  if (credentials.expiresAt <= Date.now()) {
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
    if (response.ok && typeof body.access_token === "string") {
      stats.refreshed += 1;
      token = body.access_token;
      writeFileSync(
        file,
        JSON.stringify({
          accessToken: body.access_token,
          refreshToken: body.refresh_token ?? credentials.refreshToken,
          expiresAt: Date.now() + (body.expires_in ?? 3600) * 1000,
        }),
      );
    } else {
      stats.refreshFailed += 1;
      stats.lastError = body.error ?? `HTTP ${response.status}`;
    }
  }
  process.stdout.write(`TOKEN ${token}\nSTATS ${JSON.stringify(stats)}\n`);
};

const run = () =>
  main().catch((error) => {
    process.stderr.write(`baseline failed: ${error.message}\n`);
    process.exitCode = 1;
  });

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
    run();
  });
} else run();
