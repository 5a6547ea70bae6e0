/**
 * `node:http` and `node:https`, required when first needed rather than imported. An ES-module import of `node:http`
 * builds its module namespace from every export, and reading the `WebSocket`/`MessageEvent` getters among them loads
 * Node's bundled undici — ~10 ms at the start of every command, including `baton status` and the herd's followers
 * that never send a request. `require` returns the CommonJS module without that facade (on every Node release baton
 * supports, unlike `process.getBuiltinModule`, which Node 20 has only from 20.16).
 */
import type * as Http from "node:http";
import type * as Https from "node:https";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export const nodeHttp = (): typeof Http => require("node:http");
export const nodeHttps = (): typeof Https => require("node:https");
