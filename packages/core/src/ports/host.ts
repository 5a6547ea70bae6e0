/**
 * Port: who we are (host name, process id) and whether another process is alive. Liveness is how a claim's outcome
 * is judged without trusting clocks across processes (I5): a presented claim whose claimant is alive is still in
 * flight; one whose claimant is dead is in doubt (I9).
 */
import { Context, type Effect } from "effect";

export type Liveness = "alive" | "dead" | "unknown";

export interface HostIdentityShape {
  readonly host: string;
  readonly pid: number;
  readonly isAlive: (host: string, pid: number) => Effect.Effect<Liveness>;
}

export class HostIdentity extends Context.Service<HostIdentity, HostIdentityShape>()("@baton/core/HostIdentity") {}
