/**
 * Port: the provider registry as the protocol needs it — which issuer and client an account's tokens belong to, and
 * the provider's profile (grace window for in-doubt retries). Adapters read it from the config file in BATON_HOME.
 */
import { Context, type Effect } from "effect";
import type { InvalidInput, NotFound } from "../errors.ts";

export interface ProviderProfile {
  readonly name: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly scope: string | undefined;
  /** Seconds during which one retry of an in-doubt generation is allowed (I1's only exception). Default 0. */
  readonly graceWindowSeconds: number;
  readonly deviceOnly: boolean;
  /** The provider offers RFC 7662 introspection (used to resolve an in-doubt refresh, I9). */
  readonly introspection: boolean;
  /**
   * How the provider treats a refresh token once used: `strict` (single use; reuse revokes the family), `grace` (a
   * reuse inside `graceWindowSeconds` is accepted), `none` (refresh tokens do not rotate: presenting one again is
   * harmless). Optional for profiles written before it existed: `strict`, or `grace` with a grace window.
   */
  readonly rotation?: "strict" | "grace" | "none";
  /** A refresh revokes the previous access token at once (GitLab): a sibling's refresh must not be served around. */
  readonly revokesAccessTokenOnRefresh?: boolean;
}

export interface ProviderDirectoryShape {
  /** The provider's profile; `InvalidInput` when the registry itself cannot be read (malformed configuration). */
  readonly get: (name: string) => Effect.Effect<ProviderProfile, NotFound | InvalidInput>;
}

export class ProviderDirectory extends Context.Service<ProviderDirectory, ProviderDirectoryShape>()(
  "@baton/core/ProviderDirectory",
) {}
