/**
 * The ports' contract suites — the ones the file, keychain and in-memory stores pass — against the PostgreSQL
 * adapters, on a throwaway PostgreSQL 15 cluster (test/support/postgres.ts), each test in a fresh database with a
 * fresh store key. "Other processes" are real child processes using the same adapters
 * (packages/adapters/test/contract/fixtures/holder.mjs): their liveness is judged by the database alone — for a claim
 * "on another machine" exactly as for one on this machine, however old its claim.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  PostgresClaimStore,
  PostgresClientRegistry,
  PostgresEventStore,
  PostgresLock,
  PostgresSecretStore,
  PostgresSession,
  PostgresStore,
  StoreKey,
} from "@baton/adapters";
import { Layer } from "effect";
import { afterAll, beforeAll, describe } from "vitest";
import { claimStoreContract } from "../../packages/adapters/test/contract/claim-store-contract.ts";
import { clientRegistryContract } from "../../packages/adapters/test/contract/client-registry-contract.ts";
import { eventStoreContract } from "../../packages/adapters/test/contract/event-store-contract.ts";
import { startHolder } from "../../packages/adapters/test/contract/holder.ts";
import { lockContract } from "../../packages/adapters/test/contract/lock-contract.ts";
import { secretStoreContract } from "../../packages/adapters/test/contract/secret-store-contract.ts";
import { type PostgresServer, postgresUnavailableReason, startPostgres } from "../support/postgres.ts";

const unavailable = postgresUnavailableReason();
const HOST = "contract-machine";

let server: PostgresServer | undefined;

/** A fresh database with a fresh key, and the store layer over it. */
const freshStore = async () => {
  if (server === undefined) throw new Error("no PostgreSQL server");
  const database = `contract_${randomBytes(5).toString("hex")}`;
  await server.query(`CREATE DATABASE ${database}`);
  const key = StoreKey.generateStoreKey();
  const url = server.url(database);
  // The suites take the services out of their layers: the connection must outlive each layer, until the cleanup.
  const acquired = PostgresSession.acquireSession(url);
  const others: Array<{ readonly release: () => Promise<void> }> = [];
  const children: Array<ChildProcess> = [];
  return {
    store: Layer.succeed(PostgresStore.PostgresStore)(PostgresStore.make(key, acquired.session)),
    /** The same store over another connection: what another process or machine sees. */
    otherConnection: () => {
      const other = PostgresSession.acquireSession(url);
      others.push(other);
      return Layer.succeed(PostgresStore.PostgresStore)(PostgresStore.make(key, other.session));
    },
    holder: (args: ReadonlyArray<string>) =>
      startHolder(["postgres", url, key.bytes.toString("hex"), ...args], children),
    cleanup: async () => {
      for (const child of children) child.kill("SIGKILL");
      await Promise.all([acquired, ...others].map((session) => session.release()));
    },
  };
};

describe.skipIf(unavailable !== undefined)(
  `PostgreSQL stores${unavailable === undefined ? "" : ` (skipped: ${unavailable})`}`,
  () => {
    beforeAll(async () => {
      server = await startPostgres({ fsync: false });
    });
    afterAll(async () => {
      await server?.stop();
    });

    secretStoreContract("postgres secret store", async () => {
      const made = await freshStore();
      return { layer: PostgresSecretStore.layer.pipe(Layer.provide(made.store)), cleanup: made.cleanup };
    });

    eventStoreContract("postgres event store", async () => {
      const made = await freshStore();
      return { layer: PostgresEventStore.layer.pipe(Layer.provide(made.store)), cleanup: made.cleanup };
    });

    claimStoreContract(
      "postgres claim store",
      async () => {
        const made = await freshStore();
        const layer = () => PostgresClaimStore.layer.pipe(Layer.provide(made.store));
        return {
          host: HOST,
          pid: process.pid,
          layer: layer(),
          secondInstance: layer(),
          claimElsewhere: (account, generation, { machine, presenting, at }) =>
            made.holder([
              "claim",
              account.provider,
              account.account,
              String(generation),
              presenting ? "presenting" : "quiet",
              machine === "this" ? HOST : "another-machine",
              String(at),
            ]),
          remoteLiveness: "shared",
          deathNoticedWithinMs: PostgresClaimStore.PRESENCE_GRACE_MS,
          cleanup: made.cleanup,
        };
      },
      "shared",
    );

    clientRegistryContract("postgres client registry", async () => {
      const made = await freshStore();
      return {
        layer: PostgresClientRegistry.layer.pipe(Layer.provide(made.store)),
        secondInstance: PostgresClientRegistry.layer.pipe(Layer.provide(made.otherConnection())),
        cleanup: made.cleanup,
      };
    });

    lockContract("postgres lock", async () => {
      const made = await freshStore();
      const layer = () => PostgresLock.layer.pipe(Layer.provide(made.store));
      return {
        layer: layer(),
        secondInstance: layer(),
        secrets: PostgresSecretStore.layer.pipe(Layer.provide(made.store)),
        holdElsewhere: (account) => made.holder(["lock", account.provider, account.account]),
        deadHolderRecoveredWithinMs: 1_000,
        cleanup: made.cleanup,
      };
    });
  },
);
