/**
 * A BATON_HOME with many accounts for the `status --json` benchmark, written directly in the file-store format
 * (packages/adapters/src/file/: accounts/<provider>/<account>/secret.json 0600 + events.log 0600 of checksummed
 * lines, directories 0700) plus a config.json naming the providers. Tokens are random placeholders; the issuer is
 * an unused loopback address (status never contacts it). With `foldAsRefresh`, streams longer than 16 events get the
 * fold checkpoint a refresh would have written after its 16th event (the product's own fold writes it).
 */
import { randomBytes } from "node:crypto";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempHome } from "./account.mjs";
import { generateEvents } from "./events.mjs";

/** packages/adapters/src/file/fold-checkpoint.ts `CHECKPOINT_AFTER_REFRESH`. */
const CHECKPOINT_AFTER_REFRESH = 16;

export const createStatusHome = async ({ accounts, eventsPerAccount, providers = 10, formatLine, foldAsRefresh }) => {
  const prepared = await tempHome(`status-${accounts}x${eventsPerAccount}`);
  const { home } = prepared;
  const now = Date.now();
  const config = { version: 1, providers: {}, defaults: {} };
  for (let p = 0; p < providers; p++) {
    const name = `prov${p}`;
    config.providers[name] = {
      issuer: "http://127.0.0.1:9",
      clientId: "bench",
      scope: "openid offline_access profile",
      graceWindowSeconds: 0,
      deviceOnly: false,
      metadata: { token_endpoint: "http://127.0.0.1:9/token" },
    };
  }
  writeFileSync(join(home, "config.json"), JSON.stringify(config, null, 2), { mode: 0o600 });
  let totalEvents = 0;
  for (let i = 0; i < accounts; i++) {
    const provider = `prov${i % providers}`;
    const account = `acct-${String(i).padStart(4, "0")}`;
    const dir = join(home, "accounts", provider, account);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { events } = generateEvents(eventsPerAccount, { seed: i + 1, host: "bench-host" });
    const lastStored = events.findLast((e) => e.type === "credentials.stored");
    // Shift the stream so that its last credentials were stored 10 minutes ago (state: valid).
    const shift = now - 600_000 - lastStored.at;
    const shifted = events.map((e) => ({
      ...e,
      at: e.at + shift,
      ...(e.expiresAt ? { expiresAt: e.expiresAt + shift } : {}),
    }));
    const stored = shifted.findLast((e) => e.type === "credentials.stored");
    const lines = shifted.map((e) => formatLine(e));
    // As the product leaves a stream: the refresh whose fold under the lock went through 16 events wrote a
    // checkpoint (events.fold); the events after it came later.
    const checkpointAt =
      foldAsRefresh !== undefined && lines.length > CHECKPOINT_AFTER_REFRESH ? CHECKPOINT_AFTER_REFRESH : 0;
    writeFileSync(join(dir, "events.log"), lines.slice(0, checkpointAt || lines.length).join(""), { mode: 0o600 });
    if (checkpointAt > 0) {
      await foldAsRefresh(home, { provider, account });
      appendFileSync(join(dir, "events.log"), lines.slice(checkpointAt).join(""));
    }
    const secret = {
      version: 1,
      account: `${provider}:${account}`,
      generation: stored.generation,
      accessToken: randomBytes(32).toString("base64url"),
      refreshToken: randomBytes(32).toString("base64url"),
      tokenType: "Bearer",
      expiresAt: stored.expiresAt,
      obtainedAt: stored.at,
      scope: "openid offline_access profile",
      issuer: "http://127.0.0.1:9",
      clientId: "bench",
    };
    writeFileSync(join(dir, "secret.json"), JSON.stringify(secret), { mode: 0o600 });
    totalEvents += shifted.length;
  }
  return { ...prepared, totalEvents };
};
