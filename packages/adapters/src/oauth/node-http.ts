/**
 * `node:http` and `node:https`, fetched when first needed rather than imported. An ES-module import of `node:http`
 * builds its module namespace from every export, and reading the `WebSocket`/`MessageEvent` getters among them loads
 * Node's bundled undici — ~10 ms at the start of every command, including `baton status` and the herd's followers
 * that never send a request. `process.getBuiltinModule` returns the CommonJS module without that facade.
 */
import type * as Http from "node:http";
import type * as Https from "node:https";

export const nodeHttp = (): typeof Http => process.getBuiltinModule("node:http");
export const nodeHttps = (): typeof Https => process.getBuiltinModule("node:https");
