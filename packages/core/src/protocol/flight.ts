/**
 * What one refresh flight is given and what it fills in, shared by the steps of the protocol (refresh.ts → under-lock.ts
 * → present.ts → failures.ts / in-doubt.ts): the caller's options, the trace of what this process did (its flight
 * note), the freshness test, the "no credentials" error, and the signature of the presenting step — which failure
 * classification and in-doubt resolution receive as a value to present once more, so that no step imports a step
 * that calls it.
 */
import type { Effect, Scope } from "effect";
import { type AccountRef, accountKey } from "../account.ts";
import type { Credentials } from "../credentials.ts";
import { type InvalidInput, LoginRequired, type NotFound, type Retryable } from "../errors.ts";
import type { FlightNote } from "../events.ts";
import { freshness } from "../policy.ts";
import type { ClaimStore } from "../ports/claim-store.ts";
import type { EventStore } from "../ports/event-store.ts";
import type { HostIdentity } from "../ports/host.ts";
import type { ProviderProfile } from "../ports/providers.ts";
import type { SecretStore } from "../ports/secret-store.ts";
import type { TokenEndpoint } from "../ports/token-endpoint.ts";

/** What this process did in one flight, filled in as the protocol goes (the flight note, events.ts). */
export interface FlightTrace {
  outcome: Exclude<FlightNote["outcome"], "gave-up"> | undefined;
  waitedFrom: number | undefined;
  waitedUntil: number | undefined;
  sentAt: number | undefined;
  answeredAt: number | undefined;
}

export const newFlightTrace = (): FlightTrace => ({
  outcome: undefined,
  waitedFrom: undefined,
  waitedUntil: undefined,
  sentAt: undefined,
  answeredAt: undefined,
});

export interface RefreshOptions {
  /** Refresh even if the stored token is fresh (`baton refresh`), unless a sibling already did since `known`. */
  readonly force: boolean;
  /** The generation the caller holds, if any: anything newer in the store is adopted instead of refreshing. */
  readonly known: Credentials | undefined;
  /** Filled in with what this process did (optional). */
  readonly trace?: FlightTrace;
}

/** Fresh enough to hand out without a refresh. */
export const usable = (credentials: Credentials, now: number, thresholdMs: number) =>
  freshness(credentials, now, thresholdMs) === "fresh";

export const noCredentials = (account: AccountRef) =>
  new LoginRequired({
    account: accountKey(account),
    reason: "no-credentials",
    message: `no credentials for ${accountKey(account)}; run \`baton login ${accountKey(account)}\``,
  });

/** Step 6 as a value: claim recorded, present, persist, classify (present.ts). */
export type Present = (
  account: AccountRef,
  profile: ProviderProfile,
  current: Credentials,
  attempt: number,
  options: RefreshOptions,
  isRetry: boolean,
) => Effect.Effect<
  Credentials,
  LoginRequired | Retryable | InvalidInput | NotFound,
  SecretStore | ClaimStore | TokenEndpoint | HostIdentity | EventStore | Scope.Scope
>;
