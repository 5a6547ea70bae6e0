/**
 * Where `baton serve` listens (serve/listen.ts): the default unix socket under BATON_HOME; TCP only with TLS, or plain
 * on loopback with --insecure-loopback; every wrong combination refused naming the flag. Preparing a socket path
 * removes a stale socket, and refuses a live one, a symlink or any other file.
 */
import { spawnSync } from "node:child_process";
import { lstatSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidInput } from "@baton/core";
import { afterAll, describe, expect, it } from "vitest";
import { clientAddress, defaultSocketPath, listenPlan, prepareSocketPath } from "../../src/serve/listen.ts";

const directory = mkdtempSync(join(tmpdir(), "baton-listen-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const flags = { listen: undefined, tlsCert: undefined, tlsKey: undefined, insecureLoopback: false };
const pem = join(directory, "cert.pem");
writeFileSync(pem, "-----BEGIN CERTIFICATE-----\n");

describe("listenPlan", () => {
  it("listenPlan - should default to the socket under BATON_HOME and accept unix:PATH", () => {
    expect(listenPlan("/home/u/.baton", flags)).toEqual({ kind: "unix", path: "/home/u/.baton/serve/run/baton.sock" });
    expect(defaultSocketPath("/h")).toBe("/h/serve/run/baton.sock");
    expect(listenPlan("/h", { ...flags, listen: "unix:/run/b.sock" })).toEqual({ kind: "unix", path: "/run/b.sock" });
  });

  it("listenPlan - should take TCP with TLS anywhere, and plain TCP only on loopback with --insecure-loopback", () => {
    expect(listenPlan("/h", { ...flags, listen: "0.0.0.0:8443", tlsCert: pem, tlsKey: pem })).toMatchObject({
      kind: "tcp",
      host: "0.0.0.0",
      port: 8443,
      tls: { cert: expect.any(Buffer), key: expect.any(Buffer) },
    });
    expect(listenPlan("/h", { ...flags, listen: "[::1]:0", insecureLoopback: true })).toEqual({
      kind: "tcp",
      host: "::1",
      port: 0,
      tls: undefined,
    });
  });

  it("listenPlan - should refuse every other combination, naming the flag", () => {
    const refusals = [
      [{ listen: "0.0.0.0:8443" }, "needs TLS"],
      [{ listen: "10.0.0.1:8443", insecureLoopback: true }, "is not a loopback address"],
      [{ listen: "127.0.0.1:8443", insecureLoopback: true, tlsCert: pem, tlsKey: pem }, "exclude each other"],
      [{ listen: "127.0.0.1:8443", tlsCert: pem }, "needs both"],
      [{ listen: "127.0.0.1:8443", tlsCert: join(directory, "absent.pem"), tlsKey: pem }, "--tls-cert: cannot read"],
      [{ tlsCert: pem, tlsKey: pem }, "are for a TCP listener"],
      [{ listen: "unix:relative.sock" }, "absolute path"],
      [{ listen: `unix:/${"x".repeat(120)}` }, "longer than"],
      [{ listen: "localhost" }, "neither unix:PATH nor HOST:PORT"],
      [{ listen: "127.0.0.1:70000", insecureLoopback: true }, "neither unix:PATH nor HOST:PORT"],
    ] as const;
    for (const [given, message] of refusals) {
      const plan = listenPlan("/h", { ...flags, ...given });
      expect(plan).toBeInstanceOf(InvalidInput);
      expect(plan).toHaveProperty("message", expect.stringContaining(message));
    }
  });

  it("clientAddress - should name what clients put in BATON_SERVER", () => {
    expect(clientAddress({ kind: "unix", path: "/s" }, 0)).toBe("unix:/s");
    expect(clientAddress({ kind: "tcp", host: "::1", port: 0, tls: undefined }, 4242)).toBe("http://[::1]:4242");
    const tls = { cert: Buffer.from(""), key: Buffer.from("") };
    expect(clientAddress({ kind: "tcp", host: "10.0.0.1", port: 8443, tls }, 8443)).toBe("https://10.0.0.1:8443");
  });
});

const listening = (path: string) =>
  new Promise<Server>((resolve) => {
    const server = createServer();
    server.listen(path, () => resolve(server));
  });

describe("prepareSocketPath", () => {
  it("prepareSocketPath - should create a missing 0700 directory, and remove a socket nobody answers on", async () => {
    const path = join(directory, "fresh", "b.sock");
    expect(await prepareSocketPath(path)).toEqual([]);
    expect(statSync(join(directory, "fresh")).mode & 0o777).toBe(0o700);
    // A listener killed outright leaves its socket file behind.
    const killed = spawnSync(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    expect(killed.signal).toBe("SIGKILL");
    expect(lstatSync(path).isSocket()).toBe(true);
    expect(await prepareSocketPath(path)).toEqual([`removed the stale socket ${path} (no broker answered on it)`]);
    expect(lstatSync(path, { throwIfNoEntry: false })).toBeUndefined();
  });

  it("prepareSocketPath - should refuse a socket a live process answers on, a symlink and a regular file", async () => {
    const live = join(directory, "live.sock");
    const server = await listening(live);
    try {
      await expect(prepareSocketPath(live)).rejects.toHaveProperty(
        "message",
        expect.stringContaining("a broker already answers"),
      );
    } finally {
      server.close();
    }
    const link = join(directory, "link.sock");
    symlinkSync(join(directory, "elsewhere"), link);
    await expect(prepareSocketPath(link)).rejects.toHaveProperty("message", expect.stringContaining("symbolic link"));
    const file = join(directory, "file.sock");
    writeFileSync(file, "data");
    await expect(prepareSocketPath(file)).rejects.toHaveProperty("message", expect.stringContaining("not a socket"));
  });
});
