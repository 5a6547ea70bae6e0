/**
 * A simulated authorization server behind the TokenEndpoint port: refresh tokens rotate on every use and reuse is
 * detected the way oidc-provider does it — presenting a consumed token answers `invalid_grant` AND revokes the whole
 * family, so the newest token dies too. It records every presentation it processed (the I1 audit) and can inject
 * faults per request: a 5xx before processing, or an answer lost after processing (the in-doubt case).
 */
import { Effect, Layer } from "effect";
import type { TokenSet } from "../credentials.ts";
import { TokenEndpointFailure } from "../errors.ts";
import { TokenEndpoint } from "../ports/token-endpoint.ts";
import { pause } from "./world.ts";

export type RequestFault = "none" | "server-error" | "lost-answer";

export type PresentationOutcome = "rotated" | "reuse" | "unknown-token" | "family-revoked";

export interface Presentation {
  readonly refreshToken: string;
  readonly pid: number;
  readonly outcome: PresentationOutcome;
}

interface RefreshTokenState {
  readonly family: number;
  consumed: boolean;
  reusedOnce: boolean;
}

export class SimulatedServer {
  readonly issuer: string;
  /** Every presentation the server processed, in order. */
  readonly presentations: Array<Presentation> = [];
  readonly revokedFamilies = new Set<number>();
  /** The newest refresh token of each family. */
  readonly latest = new Map<number, string>();
  /** Decides the fault of each request (default: none). */
  nextFault: () => RequestFault = () => "none";
  /** Called for every processed presentation with the presenter's pid (the property tests audit the lock here). */
  onPresent: (pid: number) => void = () => undefined;
  accessTtlSeconds = 3600;
  /** A provider with a reuse grace window accepts one re-presentation of a just-consumed token (then rotates again). */
  reuseGrace = false;
  /** Whether the client may introspect its refresh tokens (RFC 7662). */
  introspection = false;
  /** Whether refresh tokens rotate (false: like Google, the answer carries no refresh token and the old one stays). */
  rotates = true;
  private readonly tokens = new Map<string, RefreshTokenState>();
  private families = 0;
  private counter = 0;

  constructor(issuer = "https://issuer.test") {
    this.issuer = issuer;
  }

  /** Starts a new family (a login) and returns its first tokens. */
  login(scope?: string): TokenSet {
    this.families += 1;
    return this.issue(this.families, scope);
  }

  familyOf(refreshToken: string): number | undefined {
    return this.tokens.get(refreshToken)?.family;
  }

  /** RFC 7662 `active` for a refresh token: issued, not consumed, its family not revoked. */
  isActive(refreshToken: string): boolean {
    const state = this.tokens.get(refreshToken);
    return state !== undefined && !state.consumed && !this.revokedFamilies.has(state.family);
  }

  /** An administrator revokes a family (the user revoked access at the provider). */
  revokeFamily(family: number): void {
    this.revokedFamilies.add(family);
  }

  /** Processes one refresh grant. */
  present(refreshToken: string, scope: string | undefined, pid: number): TokenSet | PresentationOutcome {
    this.onPresent(pid);
    const state = this.tokens.get(refreshToken);
    if (state?.consumed && this.reuseGrace && !state.reusedOnce && !this.revokedFamilies.has(state.family)) {
      state.reusedOnce = true;
      const superseded = this.latest.get(state.family);
      if (superseded !== undefined) this.tokens.delete(superseded);
      this.presentations.push({ refreshToken, pid, outcome: "rotated" });
      return this.issue(state.family, scope);
    }
    const outcome: PresentationOutcome =
      state === undefined
        ? "unknown-token"
        : this.revokedFamilies.has(state.family)
          ? "family-revoked"
          : state.consumed
            ? "reuse"
            : "rotated";
    this.presentations.push({ refreshToken, pid, outcome });
    if (state === undefined || outcome !== "rotated") {
      if (state !== undefined) this.revokedFamilies.add(state.family);
      return outcome;
    }
    if (!this.rotates) {
      this.counter += 1;
      const accessToken = `at-${state.family}-${this.counter}`;
      return { accessToken, refreshToken: undefined, tokenType: "Bearer", expiresIn: this.accessTtlSeconds, scope };
    }
    state.consumed = true;
    return this.issue(state.family, scope);
  }

  private issue(family: number, scope: string | undefined): TokenSet {
    this.counter += 1;
    const refreshToken = `rt-${family}-${this.counter}`;
    this.tokens.set(refreshToken, { family, consumed: false, reusedOnce: false });
    this.latest.set(family, refreshToken);
    return {
      accessToken: `at-${family}-${this.counter}`,
      refreshToken,
      tokenType: "Bearer",
      expiresIn: this.accessTtlSeconds,
      scope,
    };
  }
}

const failure = (
  reason: TokenEndpointFailure["reason"],
  processed: TokenEndpointFailure["processed"],
  status?: number,
) =>
  new TokenEndpointFailure({
    reason,
    processed,
    message: reason === "invalid_grant" ? "invalid_grant (simulated)" : `${reason} (simulated)`,
    ...(status === undefined ? {} : { status }),
    ...(reason === "invalid_grant" ? { error: "invalid_grant" } : {}),
  });

export const tokenEndpointLayer = (server: SimulatedServer, pid: number) =>
  Layer.succeed(
    TokenEndpoint,
    TokenEndpoint.of({
      refresh: (request) =>
        Effect.gen(function* () {
          yield* pause("server.request");
          const fault = server.nextFault();
          if (fault === "server-error") return yield* failure("server_error", "no", 503);
          const answer = server.present(request.refreshToken, request.scope, pid);
          yield* pause("server.answer");
          if (typeof answer === "string") return yield* failure("invalid_grant", "yes", 400);
          if (fault === "lost-answer") return yield* failure("timeout", "unknown");
          return answer;
        }),
      introspect: (request) =>
        Effect.gen(function* () {
          yield* pause("server.introspect");
          if (!server.introspection) return "unavailable" as const;
          return server.isActive(request.refreshToken) ? ("active" as const) : ("inactive" as const);
        }),
    }),
  );
