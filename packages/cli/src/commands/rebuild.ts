/**
 * `baton rebuild [--json]`: rebuilds the account registry — the providers and `defaults` of config.json — from what
 * the stores hold, and reports every account found:
 *
 * - accounts with secrets and events (in use), with events but no secrets (logged out or revoked: log in again),
 *   with secrets but no events (they work; the history starts with the next change);
 * - a provider missing from config.json (lost or replaced file) is registered again from its accounts' stored issuer
 *   and client id, by discovery, when they all agree (its grace window and device-only setting are back to the
 *   defaults and a client secret cannot be recovered: re-add it by hand if it had one). Its scope is every scope its
 *   accounts hold (credentials and `credentials.stored` events), plus `offline_access` when an account holds a
 *   refresh token and the issuer lists that scope: OpenID providers issue refresh tokens for it (OpenID Connect Core
 *   §11) but often leave it out of the scope they report as granted, so without it the next login would get no
 *   refresh token;
 * - a provider with no default account and exactly one account with credentials gets that one as its default.
 *
 * Nothing else is changed, so running it twice changes nothing the second time. A malformed config.json is never
 * overwritten (exit 2, naming the field). Exit 4 when a provider could not be registered again (issuer unreachable).
 */
import { Discovery, ProviderRegistry } from "@baton/adapters";
import {
  type AccountRef,
  accountKey,
  allAccounts,
  type Credentials,
  EventStore,
  Retryable,
  replay,
  SecretStore,
  stateName,
} from "@baton/core";
import { Clock, Effect } from "effect";
import { Command } from "effect/cli";
import { table } from "../format.ts";
import { jsonFlag } from "../json-flag.ts";
import { storeProblem } from "./export.ts";

export interface RebuiltAccount {
  readonly account: string;
  readonly state: string;
  readonly secrets: boolean;
  readonly events: number;
  readonly kind: "in-use" | "no-secrets" | "no-events";
  readonly note: string;
}

export interface RebuiltProvider {
  readonly provider: string;
  readonly action: "kept" | "registered" | "failed" | "conflict" | "missing";
  readonly message: string;
}

export interface RebuiltDefault {
  readonly provider: string;
  readonly account: string | null;
  readonly action: "kept" | "set" | "ambiguous" | "none" | "dangling";
}

const NOTES: Record<RebuiltAccount["kind"], string> = {
  "in-use": "credentials and history",
  "no-secrets": "history only (logged out or revoked): `baton login` to use it again",
  "no-events": "credentials without history; they work, the history starts with the next change",
};

const inspect = (account: AccountRef, now: number) =>
  Effect.gen(function* () {
    // A corrupt record is moved to quarantine/ by the store as it is read: report it, and go on with the others.
    let corrupt: string | undefined;
    const stored = yield* (yield* SecretStore).read(account).pipe(
      Effect.catchTag("StoreFailure", (failure) => {
        if (failure.reason !== "corrupt") return Effect.fail(storeProblem(account)(failure));
        corrupt = failure.message;
        return Effect.succeed(undefined);
      }),
    );
    const events = yield* (yield* EventStore).read(account).pipe(Effect.mapError(storeProblem(account)));
    const scopes = [
      ...events.flatMap((event) =>
        event.type === "credentials.stored" && event.scope !== undefined ? [event.scope] : [],
      ),
      ...(stored?.scope === undefined ? [] : [stored.scope]),
    ];
    const kind: RebuiltAccount["kind"] =
      stored === undefined ? "no-secrets" : events.length === 0 ? "no-events" : "in-use";
    const row: RebuiltAccount = {
      account: accountKey(account),
      state: stateName(replay(events, { now })),
      secrets: stored !== undefined,
      events: events.length,
      kind,
      note: corrupt ?? NOTES[kind],
    };
    return { account, row, stored, scopes };
  });

/** The scopes in `lists` (space-separated), each once, in the order first seen. */
const unionOfScopes = (lists: ReadonlyArray<string>): ReadonlyArray<string> => [
  ...new Set(lists.flatMap((list) => list.split(" ").filter((scope) => scope.length > 0))),
];

/** The scope to register a provider with again (see the module comment), or `undefined` for none. */
const scopeToRegister = (
  held: ReadonlyArray<string>,
  holdsRefreshToken: boolean,
  scopesSupported: ReadonlyArray<string> | undefined,
): string | undefined => {
  const scopes = unionOfScopes(held);
  const offline = holdsRefreshToken && scopesSupported?.includes("offline_access") === true;
  const all = offline && !scopes.includes("offline_access") ? [...scopes, "offline_access"] : scopes;
  return all.length === 0 ? undefined : all.join(" ");
};

/** Registers `provider` again from its accounts' credentials, when they agree on issuer and client. */
const reregister = (provider: string, records: ReadonlyArray<Credentials>, scopes: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const first = records[0];
    if (first === undefined) {
      const result: RebuiltProvider = {
        provider,
        action: "missing",
        message: "not registered, and no stored credentials to rebuild it from; add it with `baton provider add`",
      };
      return result;
    }
    if (records.some((r) => r.issuer !== first.issuer || r.clientId !== first.clientId)) {
      const result: RebuiltProvider = {
        provider,
        action: "conflict",
        message: "its accounts name different issuers or clients; add it with `baton provider add`",
      };
      return result;
    }
    const registered = Effect.gen(function* () {
      const found = yield* Discovery.discover(first.issuer);
      const scope = scopeToRegister(
        scopes,
        records.some((r) => r.refreshToken !== undefined),
        found.scopesSupported,
      );
      const input = {
        name: provider,
        issuer: first.issuer,
        clientId: first.clientId,
        ...(scope === undefined ? {} : { scope }),
      };
      yield* ProviderRegistry.addProvider(input, () => Effect.succeed(found));
      return scope;
    });
    return yield* registered.pipe(
      Effect.map(
        (scope): RebuiltProvider => ({
          provider,
          action: "registered",
          message:
            `registered again from stored credentials: ${first.issuer}, client ${first.clientId}, ` +
            `scope ${scope ?? "(none)"}`,
        }),
      ),
      Effect.catchTags({
        InvalidInput: (error) =>
          Effect.succeed<RebuiltProvider>({ provider, action: "failed", message: error.message }),
        Retryable: (error) => Effect.succeed<RebuiltProvider>({ provider, action: "failed", message: error.message }),
      }),
    );
  });

export const runRebuild = (options: { readonly json: boolean }) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis;
    const found = yield* Effect.forEach(yield* allAccounts, (account) => inspect(account, now));
    const byProvider = new Map<string, Array<(typeof found)[number]>>();
    for (const entry of found)
      byProvider.set(entry.account.provider, [...(byProvider.get(entry.account.provider) ?? []), entry]);

    const providers: Array<RebuiltProvider> = [];
    const registered = new Set((yield* ProviderRegistry.listProviders()).map((p) => p.name));
    for (const [provider, entries] of [...byProvider.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      if (registered.has(provider)) {
        providers.push({ provider, action: "kept", message: "registered" });
        continue;
      }
      const records = entries.flatMap((e) => (e.stored === undefined ? [] : [e.stored]));
      const outcome = yield* reregister(
        provider,
        records,
        entries.flatMap((e) => e.scopes),
      );
      providers.push(outcome);
      if (outcome.action === "registered") registered.add(provider);
    }

    const defaults: Array<RebuiltDefault> = [];
    const config = yield* ProviderRegistry.loadConfig();
    for (const provider of [...registered].sort()) {
      const usable = (byProvider.get(provider) ?? []).filter((e) => e.stored !== undefined).map((e) => e.account);
      const current = Object.hasOwn(config.defaults, provider) ? config.defaults[provider] : undefined;
      if (current !== undefined) {
        const known = (byProvider.get(provider) ?? []).some((e) => e.account.account === current);
        defaults.push({ provider, account: current, action: known ? "kept" : "dangling" });
      } else if (usable.length === 1 && usable[0] !== undefined) {
        yield* ProviderRegistry.setDefaultAccount(provider, usable[0].account);
        defaults.push({ provider, account: usable[0].account, action: "set" });
      } else {
        defaults.push({ provider, account: null, action: usable.length === 0 ? "none" : "ambiguous" });
      }
    }

    const accounts = found.map((e) => e.row);
    const text = options.json
      ? JSON.stringify({ version: 1, accounts, providers, defaults }, null, 2)
      : renderRebuild(accounts, providers, defaults);
    yield* Effect.sync(() => process.stdout.write(`${text}\n`));
    const failed = providers.filter((p) => p.action === "failed");
    if (failed.length > 0) {
      return yield* new Retryable({
        account: failed.map((p) => p.provider).join(", "),
        reason: "network",
        message: `could not register ${failed.map((p) => p.provider).join(", ")} again; try again when the issuer is reachable`,
      });
    }
  });

const DEFAULT_TEXT: Record<RebuiltDefault["action"], (d: RebuiltDefault) => string> = {
  kept: (d) => `${d.provider} → ${d.provider}:${d.account} (kept)`,
  set: (d) => `${d.provider} → ${d.provider}:${d.account} (set: its only account)`,
  ambiguous: (d) => `${d.provider}: several accounts, no default; choose one with \`baton use ${d.provider}:ACCOUNT\``,
  none: (d) => `${d.provider}: no account with credentials yet`,
  dangling: (d) =>
    `${d.provider} → ${d.provider}:${d.account}, which has no credentials or history; \`baton use\` another`,
};

export const renderRebuild = (
  accounts: ReadonlyArray<RebuiltAccount>,
  providers: ReadonlyArray<RebuiltProvider>,
  defaults: ReadonlyArray<RebuiltDefault>,
): string => {
  const lines: Array<string> = [];
  lines.push(
    accounts.length === 0
      ? "no accounts found in the stores"
      : table(
          ["ACCOUNT", "STATE", "SECRETS", "EVENTS", "NOTE"],
          accounts.map((a) => [a.account, a.state, a.secrets ? "yes" : "no", String(a.events), a.note]),
        ),
  );
  for (const p of providers) if (p.action !== "kept") lines.push(`provider ${p.provider}: ${p.action}: ${p.message}`);
  if (defaults.length > 0) lines.push("defaults:", ...defaults.map((d) => `  ${DEFAULT_TEXT[d.action](d)}`));
  return lines.join("\n");
};

export const rebuildCommand = Command.make(
  "rebuild",
  {
    json: jsonFlag,
  },
  (options) => runRebuild(options),
).pipe(
  Command.withDescription("Rebuild the account registry (providers, default accounts) from the stores"),
  Command.withExamples([
    { command: "baton rebuild", description: "after config.json was lost or edited by hand" },
    { command: "baton rebuild --json", description: "the same, machine-readable" },
  ]),
);
