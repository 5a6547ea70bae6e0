/**
 * Test controls wrapped around oidc-provider's endpoints, as one Koa middleware installed with `provider.use`
 * (which runs before oidc-provider's router):
 * - Latency: every token endpoint answer is held back by the configured delay. The delay is applied after
 *   oidc-provider has processed the request, so a rotation is already committed while its answer is "on the wire" —
 *   the window in which a client that dies loses the new refresh token.
 * - Refusals: the next N token requests are answered with a chosen status (503, 429, ...) and optional Retry-After,
 *   without being processed, so nothing rotates. The latency applies to them too.
 * - Lost answers: the next N token requests are processed (a refresh rotates), held back by the latency, and then
 *   their answer is lost the way a gateway loses it — replaced by a 500/502/504 or the connection dropped (see
 *   lost-answers.ts). Refusals and lost answers share one queue of pending faults.
 * - Device interval: oidc-provider's device authorization response carries no `interval`; the middleware adds the
 *   configured one (RFC 8628 section 3.2).
 * - Serialization: token requests are processed one at a time, as a database that locks the refresh token's row
 *   would. oidc-provider reads a refresh token's "consumed" flag when it loads the token and sets it a few awaits
 *   later, so two requests interleaved in between could both rotate the same token. With the in-memory adapter
 *   those awaits settle within one turn of the event loop and no interleaving was seen without the queue (40 trials
 *   of 5 concurrent refreshes); the queue makes "exactly one of N concurrent refreshes with the same token wins, the
 *   others are reuse" a guarantee instead of an accident of timing. Only processing (about a millisecond) is
 *   serialized; the injected latency still overlaps. Processing includes reading the request body, so a client that
 *   stalls mid-body could hold the queue: each request waits at most 1 s for the one before it.
 * - Every POST to the token endpoint is counted (`tokenRequests`).
 */
import type { KoaContextWithOIDC } from "oidc-provider";
import { type LostAnswer, loseAnswer, validateLostAnswer } from "./lost-answers.ts";
import { ROUTES } from "./provider-configuration.ts";
import type { CounterBoard } from "./server-counters.ts";

/** A pending fault: refuse the request unprocessed, or process it and lose the answer. */
export type TokenFault =
  | { readonly kind: "refuse"; readonly status: number; readonly retryAfterSeconds: number | undefined }
  | { readonly kind: "lose"; readonly answer: LostAnswer };

function faultCount(count: number): number {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`count must be a non-negative integer, got ${count}`);
  }
  return count;
}

const QUEUE_WAIT_LIMIT_MS = 1000;

function settledOrTimedOut(previous: Promise<void>, limitMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, limitMs);
    void previous.finally(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Mutable switches read by the middleware on every request. */
export class TokenEndpointControls {
  readonly deviceIntervalSeconds: number;
  #latencyMs: number;
  #faults: TokenFault[] = [];
  #processing: Promise<void> = Promise.resolve();

  constructor(latencyMs: number, deviceIntervalSeconds: number) {
    this.#latencyMs = latencyMs;
    this.deviceIntervalSeconds = deviceIntervalSeconds;
  }

  get latencyMs(): number {
    return this.#latencyMs;
  }

  setLatency(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`latency must be a non-negative number of ms, got ${ms}`);
    this.#latencyMs = ms;
  }

  /** Replaces any pending faults with `count` refusals: answers of `status` without processing the request. */
  failNext(count: number, status: number, retryAfterSeconds?: number): void {
    faultCount(count);
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError(`status must be an HTTP error status (400-599), got ${status}`);
    }
    if (retryAfterSeconds !== undefined && (!Number.isInteger(retryAfterSeconds) || retryAfterSeconds < 0)) {
      throw new RangeError(`retryAfterSeconds must be a non-negative integer, got ${retryAfterSeconds}`);
    }
    this.#faults = Array.from({ length: count }, () => ({ kind: "refuse", status, retryAfterSeconds }));
  }

  /** Replaces any pending faults with `count` lost answers: each request is processed, then its answer is lost. */
  loseNext(count: number, answer: LostAnswer): void {
    faultCount(count);
    validateLostAnswer(answer);
    this.#faults = Array.from({ length: count }, () => ({ kind: "lose", answer }));
  }

  takeFault(): TokenFault | undefined {
    return this.#faults.shift();
  }

  /** Runs `work` once the previously queued work has settled, or has held the queue for `QUEUE_WAIT_LIMIT_MS`. */
  oneAtATime<T>(work: () => Promise<T>): Promise<T> {
    const run = settledOrTimedOut(this.#processing, QUEUE_WAIT_LIMIT_MS).then(work);
    this.#processing = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (the server is stopping). Never rejects. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    signal.addEventListener("abort", finish, { once: true });
  });
}

function faultError(status: number): string {
  return status === 429 || status >= 500 ? "temporarily_unavailable" : "invalid_request";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export type ProviderMiddleware = (ctx: KoaContextWithOIDC, next: () => Promise<unknown>) => Promise<void>;

export function tokenEndpointMiddleware(
  controls: TokenEndpointControls,
  counters: CounterBoard,
  stopping: AbortSignal,
): ProviderMiddleware {
  return async (ctx, next) => {
    const isPost = ctx.method === "POST";
    if (isPost && ctx.path === ROUTES.token) {
      counters.increment("tokenRequests");
      const fault = controls.takeFault();
      if (fault?.kind === "lose") {
        await controls.oneAtATime(next);
        await pause(controls.latencyMs, stopping);
        loseAnswer(ctx, fault.answer);
        return;
      }
      if (fault !== undefined) {
        await pause(controls.latencyMs, stopping);
        ctx.status = fault.status;
        ctx.set("cache-control", "no-store");
        if (fault.retryAfterSeconds !== undefined) ctx.set("retry-after", String(fault.retryAfterSeconds));
        ctx.body = {
          error: faultError(fault.status),
          error_description: `injected fault: HTTP ${fault.status}`,
        };
        return;
      }
      await controls.oneAtATime(next);
      await pause(controls.latencyMs, stopping);
      return;
    }
    await next();
    if (isPost && ctx.path === ROUTES.deviceAuthorization && ctx.status === 200 && isRecord(ctx.body)) {
      ctx.body = { ...ctx.body, interval: controls.deviceIntervalSeconds };
    }
  };
}
