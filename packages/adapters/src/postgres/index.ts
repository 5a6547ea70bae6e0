/**
 * The PostgreSQL adapters of baton: one store shared by many machines (BATON_STORE=postgres://…). The same ports as
 * the file adapters — SecretStore (kind "postgres", sealed with the store key), EventStore, ClaimStore, AccountLock
 * with its watcher, Sessions — plus the provider registry and the brokers' client registry, over this process's one connection to the database, so the
 * core's refresh protocol runs unchanged across machines. {@link layerPostgresStores} provides them all together;
 * `PostgresAdministration` is what `baton store` and `doctor` read.
 */
import type { AccountLock, ClaimStore, EventStore, HostIdentity, SecretStore, Sessions } from "@baton/core";
import { Layer } from "effect";
import type { ClientRegistry } from "../broker/client-registry.ts";
import type { RegistryStore } from "../config/provider-registry.ts";
import * as ClaimsModule from "./claims.ts";
import * as ClientsModule from "./clients.ts";
import * as EventsModule from "./events.ts";
import * as LockModule from "./lock.ts";
import * as RegistryModule from "./registry.ts";
import * as SecretStoreModule from "./secret-store.ts";
import * as SessionsModule from "./sessions.ts";
import * as StoreModule from "./store.ts";

export * as PostgresAdministration from "./administration.ts";
export * as PostgresClaimStore from "./claims.ts";
export * as PostgresClientRegistry from "./clients.ts";
export * as PostgresEventStore from "./events.ts";
export * as PostgresKeyRotation from "./key-rotation.ts";
export * as PostgresLock from "./lock.ts";
export * as PostgresRegistry from "./registry.ts";
export * as PostgresSchema from "./schema.ts";
export * as PostgresSecretStore from "./secret-store.ts";
export * as PostgresSession from "./session.ts";
export * as PostgresSessions from "./sessions.ts";
export * as PostgresStore from "./store.ts";
export * as StoreKey from "./store-key.ts";

/** Every port of the PostgreSQL store over `settings`, and the store handle itself; needs HostIdentity (sessions). */
export const layerPostgresStores = (
  settings: StoreModule.PostgresSettings,
): Layer.Layer<
  | SecretStore
  | EventStore
  | ClaimStore
  | AccountLock
  | Sessions
  | RegistryStore
  | ClientRegistry
  | StoreModule.PostgresStore,
  never,
  HostIdentity
> =>
  Layer.mergeAll(
    SecretStoreModule.layer,
    EventsModule.layer,
    ClaimsModule.layer,
    LockModule.layer,
    SessionsModule.layer,
    RegistryModule.layer,
    ClientsModule.layer,
  ).pipe(Layer.provideMerge(StoreModule.layer(settings)));
