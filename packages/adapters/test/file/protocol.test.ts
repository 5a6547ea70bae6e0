/**
 * The core refresh protocol over the file stores, with core's simulated authorization server (rotation + reuse
 * detection) as the token endpoint: 16 concurrent callers in this process get one presentation per rotation, the new
 * generation lands in the file secret store, and the event log and the claim files record it.
 */
import { ClaimStore, EventStore, Memory, refreshAccount, SecretStore } from "@baton/core";
import { Effect, Layer } from "effect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { layerFileStores } from "../../src/file/index.ts";
import { account, credentials, makeHome, runWith, runWithLayer } from "./helpers.ts";

let home: string;
let cleanup: () => void;
beforeEach(() => {
  ({ home, cleanup } = makeHome());
});
afterEach(() => cleanup());

const profile = {
  name: "github",
  issuer: "https://issuer.example",
  clientId: "cli",
  scope: "read",
  graceWindowSeconds: 0,
  deviceOnly: false,
  introspection: false,
};

/** Makes the stored access token expired (as a new generation, so the CAS rules hold). */
const expireStored = SecretStore.use((s) =>
  Effect.flatMap(s.read(account), (current) =>
    s.write(account, { ...current!, generation: current!.generation + 1, expiresAt: 0 }, current!.generation),
  ),
);

describe("refresh protocol over the file stores", () => {
  it("refreshAccount - should present each generation once for 16 concurrent callers", async () => {
    const server = new Memory.SimulatedServer("https://issuer.example");
    const first = server.login("read");
    const ports = Layer.mergeAll(
      layerFileStores({ home }),
      Memory.tokenEndpointLayer(server, process.pid),
      Memory.providersLayer([profile]),
    );
    const login = credentials(1, {
      accessToken: first.accessToken,
      refreshToken: first.refreshToken!,
      scope: "read",
      expiresAt: 0,
    });
    await runWith(
      home,
      SecretStore.use((s) => s.write(account, login, 0)),
    );
    const generations: Array<ReadonlyArray<number>> = [];
    for (let rotation = 0; rotation < 3; rotation++) {
      if (rotation > 0) await runWith(home, expireStored);
      const results = await runWithLayer(
        ports,
        Effect.all(
          Array.from({ length: 16 }, () => refreshAccount(account, { force: false, known: undefined })),
          { concurrency: "unbounded" },
        ),
      );
      generations.push([...new Set(results.map((c) => c.generation))]);
    }
    expect(generations).toEqual([[2], [4], [6]]);
    expect(server.presentations.map((p) => p.outcome)).toEqual(["rotated", "rotated", "rotated"]);
    const [events, claims, pruned] = await runWith(
      home,
      Effect.all([
        EventStore.use((s) => s.read(account)),
        ClaimStore.use((s) => s.list(account, 5)),
        ClaimStore.use((s) => s.list(account, 1)),
      ]),
    );
    expect(events.filter((e) => e.type === "refresh.claimed")).toHaveLength(3);
    expect(events.filter((e) => e.type === "credentials.stored")).toHaveLength(3);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(claims).toMatchObject([{ generation: 5, attempt: 1, presenting: true, released: undefined }]);
    // Claims of generations a newer one superseded are pruned by the rotation after.
    expect(pruned).toEqual([]);
  });
});
