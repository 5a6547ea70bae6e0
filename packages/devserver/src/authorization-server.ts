/**
 * baton's local OAuth 2.0 authorization server for tests and `baton demo`: oidc-provider on 127.0.0.1 (never any
 * other interface) with one public native client whose refresh token rotates on every use, reuse detection that
 * revokes the whole token family, the device flow, revocation and introspection (the public client may introspect its
 * own tokens, unless switched off), plus the switches tests need: counters, injected latency and injected token
 * endpoint faults (requests refused unprocessed, or processed and their answers lost as a gateway loses them).
 *
 * One node:http listener serves, in order: the `/_test/` control API (opt-in), the interaction handler that logs the
 * demo user in and grants consent without a person, and oidc-provider itself. State lives in memory and dies with
 * the server.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import Provider from "oidc-provider";
import { withoutClientIntrospection } from "./client-introspection.ts";
import { answerControlRequest, CONTROL_PATH_PREFIX } from "./control-api.ts";
import { answerInteraction, INTERACTION_PATH_PREFIX } from "./interaction-handler.ts";
import type { LostAnswer } from "./lost-answers.ts";
import {
  behaviourMiddleware,
  type ProviderBehaviour,
  type ResolvedBehaviour,
  resolveBehaviour,
} from "./provider-behaviour.ts";
import {
  buildProviderConfiguration,
  INTROSPECTOR_CLIENT_ID,
  LOOPBACK_REDIRECT_URI,
  NEIGHBOUR_CLIENT_ID,
} from "./provider-configuration.ts";
import { type CounterBoard, countProviderEvents, createCounterBoard, type ServerCounters } from "./server-counters.ts";
import { TokenEndpointControls, tokenEndpointMiddleware } from "./token-endpoint-controls.ts";

/** The only address the server listens on. */
export const LOOPBACK_HOST = "127.0.0.1";

export interface AuthorizationServerOptions {
  /** Access token lifetime. Default 6 s. */
  readonly accessTokenTtlSeconds?: number;
  /** Lifetime of each refresh token, counted from its issue (every rotation starts a new one). Default 1 day. */
  readonly refreshTokenTtlSeconds?: number;
  /** Delay added before each token endpoint answer. Default 0. */
  readonly latencyMs?: number;
  /** Port on 127.0.0.1. Default 0: a free port chosen by the OS. */
  readonly port?: number;
  /** The public client's id. Default "baton-demo". */
  readonly clientId?: string;
  /** Space-separated scopes the public client may request. Default "openid offline_access profile". */
  readonly scopes?: string;
  /** `interval` advertised in device authorization responses, in seconds. Default 5 (RFC 8628's default). */
  readonly deviceInterval?: number;
  /** Serve the `/_test/` control API (see control-api.ts). Default false. */
  readonly controlApi?: boolean;
  /**
   * Let the public client introspect its own tokens (RFC 7662) and advertise `introspection_endpoint`. Default true.
   * false: a provider without introspection, as far as the public client can tell (see client-introspection.ts).
   */
  readonly clientIntrospection?: boolean;
  /** Behave like a particular provider (no discovery, rotation, grace window…; see provider-behaviour.ts). */
  readonly behaviour?: ProviderBehaviour;
}

export interface IntrospectionClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

export interface AuthorizationServer {
  /** `http://127.0.0.1:PORT`, also the base of every endpoint (discovery at `/.well-known/openid-configuration`). */
  readonly issuer: string;
  readonly clientId: string;
  readonly port: number;
  /** Space-separated scopes the public client may request. */
  readonly scopes: string;
  /** The registered redirect URI; the same path on 127.0.0.1 with any port is accepted too. */
  readonly redirectUri: string;
  /** A confidential client allowed to introspect any token (HTTP Basic auth). For tests only. */
  readonly introspectionClient: IntrospectionClient;
  counters(): ServerCounters;
  resetCounters(): void;
  /** Changes the delay added before each token endpoint answer. */
  setLatency(ms: number): void;
  /** Answers the next `count` token requests with `status` (and Retry-After) without processing them. */
  failNextTokenRequests(count: number, status: number, retryAfterSeconds?: number): void;
  /**
   * Processes the next `count` token requests (a refresh rotates) and then loses each answer as a gateway does:
   * `{ status: 500 | 502 | 504, body?: "html" | "empty" }` replaces it, `{ drop: true }` closes the connection.
   * Replaces any pending faults, like `failNextTokenRequests`.
   */
  loseNextTokenAnswers(count: number, answer: LostAnswer): void;
  /** Stops listening and closes every open connection. Safe to call more than once. */
  stop(): Promise<void>;
}

interface Settings {
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  readonly latencyMs: number;
  readonly port: number;
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly deviceInterval: number;
  readonly controlApi: boolean;
  readonly clientIntrospection: boolean;
  readonly behaviour: ResolvedBehaviour;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function publicClientId(clientId: string): string {
  if (clientId === NEIGHBOUR_CLIENT_ID || clientId === INTROSPECTOR_CLIENT_ID) {
    throw new RangeError(`clientId "${clientId}" is taken by another client of the server`);
  }
  return clientId;
}

function resolveSettings(options: AuthorizationServerOptions): Settings {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be 0-65535, got ${port}`);
  const latencyMs = options.latencyMs ?? 0;
  if (!Number.isFinite(latencyMs) || latencyMs < 0) throw new RangeError(`latencyMs must be >= 0, got ${latencyMs}`);
  const scopes = (options.scopes ?? "openid offline_access profile").split(/\s+/).filter((scope) => scope !== "");
  return {
    accessTokenTtlSeconds: positiveInteger("accessTokenTtlSeconds", options.accessTokenTtlSeconds ?? 6),
    refreshTokenTtlSeconds: positiveInteger("refreshTokenTtlSeconds", options.refreshTokenTtlSeconds ?? 24 * 60 * 60),
    latencyMs,
    port,
    clientId: publicClientId(options.clientId ?? "baton-demo"),
    scopes,
    deviceInterval: positiveInteger("deviceInterval", options.deviceInterval ?? 5),
    controlApi: options.controlApi ?? false,
    clientIntrospection: options.clientIntrospection ?? true,
    behaviour: resolveBehaviour(options.behaviour),
  };
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once("error", onError);
    server.listen({ port, host: LOOPBACK_HOST, exclusive: true }, () => {
      server.off("error", onError);
      const address = server.address();
      if (address === null || typeof address === "string") {
        reject(new Error("the server has no TCP address"));
        return;
      }
      resolve(address.port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

interface Wiring {
  readonly provider: Provider;
  readonly counters: CounterBoard;
  readonly controls: TokenEndpointControls;
  readonly stopping: AbortController;
}

const IN_MEMORY_ADAPTER_WARNING = "oidc-provider WARNING: a quick start development-only in-memory adapter is used";

/**
 * Runs `create` while dropping oidc-provider's warning about its in-memory adapter, which this server uses on
 * purpose (state dies with the server). The constructor prints it synchronously; every other message passes.
 */
function withoutInMemoryAdapterWarning<T>(create: () => T): T {
  const warn = console.warn;
  console.warn = (...parts: unknown[]): void => {
    if (typeof parts[0] === "string" && parts[0].includes(IN_MEMORY_ADAPTER_WARNING)) return;
    warn(...parts);
  };
  try {
    return create();
  } finally {
    console.warn = warn;
  }
}

function wireProvider(issuer: string, settings: Settings, introspectorSecret: string): Wiring {
  const configuration = buildProviderConfiguration({
    clientId: settings.clientId,
    scopes: settings.scopes,
    accessTokenTtlSeconds: settings.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: settings.refreshTokenTtlSeconds,
    introspectorSecret,
    rotateRefreshToken: settings.behaviour.rotation !== "none",
    clientSecret: settings.behaviour.clientSecret,
  });
  const provider = withoutInMemoryAdapterWarning(() => new Provider(issuer, configuration));
  const counters = createCounterBoard();
  const controls = new TokenEndpointControls(settings.latencyMs, settings.deviceInterval);
  const stopping = new AbortController();
  countProviderEvents(provider, counters);
  provider.use(tokenEndpointMiddleware(controls, counters, stopping.signal));
  if (!settings.clientIntrospection) provider.use(withoutClientIntrospection());
  provider.use(behaviourMiddleware(provider, settings.behaviour, stopping.signal));
  // Messages only: oidc-provider errors never carry token values, but request contexts might.
  provider.on("server_error", (_ctx, error) => {
    process.stderr.write(`[devserver] oidc-provider server_error: ${error.message}\n`);
  });
  return { provider, counters, controls, stopping };
}

/** Starts the server on 127.0.0.1 and resolves once it accepts connections. */
export async function startAuthorizationServer(options: AuthorizationServerOptions = {}): Promise<AuthorizationServer> {
  const settings = resolveSettings(options);
  const httpServer = createServer();
  const port = await listen(httpServer, settings.port);
  const issuer = `http://${LOOPBACK_HOST}:${port}`;
  const introspectionClient = { clientId: INTROSPECTOR_CLIENT_ID, clientSecret: randomBytes(24).toString("base64url") };
  const { provider, counters, controls, stopping } = wireProvider(issuer, settings, introspectionClient.clientSecret);
  const providerCallback = provider.callback();
  let stopped: Promise<void> | undefined;

  const server: AuthorizationServer = {
    issuer,
    clientId: settings.clientId,
    port,
    scopes: settings.scopes.join(" "),
    redirectUri: LOOPBACK_REDIRECT_URI,
    introspectionClient,
    counters: () => counters.snapshot(),
    resetCounters: () => counters.reset(),
    setLatency: (ms) => controls.setLatency(ms),
    failNextTokenRequests: (count, status, retryAfterSeconds) => controls.failNext(count, status, retryAfterSeconds),
    loseNextTokenAnswers: (count, answer) => controls.loseNext(count, answer),
    stop: () => {
      stopped ??= (async () => {
        stopping.abort();
        await closeServer(httpServer);
      })();
      return stopped;
    },
  };

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", issuer);
    if (settings.controlApi && url.pathname.startsWith(CONTROL_PATH_PREFIX)) {
      answerControlRequest(request, response, url, server);
    } else if (url.pathname.startsWith(INTERACTION_PATH_PREFIX) && request.method === "GET") {
      await answerInteraction(provider, request, response);
    } else {
      await providerCallback(request, response);
    }
  }

  httpServer.on("request", (request: IncomingMessage, response: ServerResponse) => {
    route(request, response).catch((error: unknown) => {
      const reason = error instanceof Error ? error.message : "unknown error";
      process.stderr.write(`[devserver] request failed: ${reason}\n`);
      if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      response.end("internal error\n");
    });
  });
  return server;
}
