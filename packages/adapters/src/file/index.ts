/**
 * The file-system adapters of baton, for one BATON_HOME: the 0600 file secret store, the checksummed event log, the
 * exclusive claim files and the proper-lockfile account lock with its directory watcher, plus Node's HostIdentity.
 * Each module exports `layer(options)`; {@link layerFileStores} provides all of them together (and HostIdentity).
 */
import type { AccountLock, ClaimStore, EventStore, HostIdentity, SecretStore } from "@baton/core";
import { Layer } from "effect";
import * as NodeHostIdentityModule from "../node/host-identity.ts";
import * as ClaimStoreModule from "./claim-store.ts";
import * as EventStoreModule from "./event-store.ts";
import * as LockModule from "./lock.ts";
import * as SecretStoreModule from "./secret-store.ts";

export * as NodeHostIdentity from "../node/host-identity.ts";
export * as FileClaimStore from "./claim-store.ts";
export * as FileEventStore from "./event-store.ts";
/** Where BATON_HOME is (BATON_HOME, else the OS convention). */
export { resolveHome } from "./home-files.ts";
export * as FileLock from "./lock.ts";
export * as FileSecretStore from "./secret-store.ts";
/** The careful writes of the file stores (0600, no symlinks followed, durable), for other files baton writes. */
export * as SecureFiles from "./secure-write.ts";
/** Stale marks: a client was refused with a generation's access token (git's `erase`). */
export * as StaleMarks from "./stale-marks.ts";

export interface FileStoresOptions {
  /** BATON_HOME: every store lives below it. */
  readonly home: string;
}

/** SecretStore (kind "file"), EventStore, ClaimStore, AccountLock and HostIdentity over `home`. */
export const layerFileStores = (
  options: FileStoresOptions,
): Layer.Layer<SecretStore | EventStore | ClaimStore | AccountLock | HostIdentity> =>
  Layer.mergeAll(
    SecretStoreModule.layer({ home: options.home }),
    EventStoreModule.layer({ home: options.home }),
    ClaimStoreModule.layer({ home: options.home }),
    LockModule.layer({ home: options.home }),
  ).pipe(Layer.provideMerge(NodeHostIdentityModule.layer));
