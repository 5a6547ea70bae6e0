/**
 * @baton/adapters — the platform side of baton's ports: file stores (secrets, events, claims), the proper-lockfile
 * account lock with its change watcher, Node's host identity, session records, the provider registry (config.json),
 * the PostgreSQL store shared by many machines (the same ports over one database), and OAuth on oauth4webapi
 * (discovery, the refresh token endpoint, loopback PKCE and device logins, revocation).
 * `NodeBaton.layer` is the composition root that wires them to the core's ports, for the CLI and the facade alike.
 * The local authorization server used by tests and the demo is its own package, `@baton/devserver`: an embedder
 * installing these adapters does not get oidc-provider.
 */
export * from "./broker/index.ts";
export * as NodeBaton from "./composition/node-baton.ts";
export * from "./config/index.ts";
export * from "./facade/index.ts";
export * from "./file/index.ts";
export * from "./keychain/index.ts";
export * from "./oauth/index.ts";
export * from "./postgres/index.ts";
export * as FileSessions from "./sessions/file-sessions.ts";
