/**
 * The credential helpers of a thin client (BATON_SERVER): git's, docker's and kubectl's answers come from one
 * hand-out of the broker — for the account named on the command line, or for the host the broker maps (`baton host
 * add` runs on the broker's host) — with the user name and the expiry to announce as the broker computed them
 * (wire/hand-out.ts there). Nothing is stored here: git's `erase` has nothing to mark, the broker refreshes ahead of
 * expiry by itself.
 */
import { BrokerClient, type BrokerRequest, type BrokerWire } from "@baton/adapters";
import type { BatonError } from "@baton/core";
import { Effect } from "effect";

export interface ThinAnswer {
  readonly token: string;
  readonly username: string;
  /** The expiry to announce to a client that caches the token (ms since the epoch). */
  readonly expiresAt: number;
}

const answerOf = (handOut: BrokerWire.HandOut, username: string | undefined): ThinAnswer => ({
  token: handOut.access_token,
  username: username ?? handOut.username,
  expiresAt: Date.parse(handOut.cache_until),
});

/** The answer for account `ref` (PROVIDER:ACCOUNT, or PROVIDER for the broker's default account). */
export const thinAccountAnswer = (
  server: BrokerRequest.BrokerConnection,
  ref: string,
  username: string | undefined,
): Effect.Effect<ThinAnswer, BatonError> =>
  Effect.map(BrokerClient.handOut(server, { account: ref }), (handOut) => answerOf(handOut, username));

/** The answer for `host` (or for `named.account`), or `undefined` when the broker maps nothing to the host. */
export const thinHelperAnswer = (
  server: BrokerRequest.BrokerConnection,
  tool: BrokerWire.HelperTool,
  host: string,
  named: { readonly account: string | undefined; readonly username: string | undefined },
): Effect.Effect<ThinAnswer | undefined, BatonError> =>
  named.account !== undefined
    ? thinAccountAnswer(server, named.account, named.username)
    : Effect.map(BrokerClient.handOutForHost(server, tool, host), (handOut) =>
        handOut === undefined ? undefined : answerOf(handOut, named.username),
      );
