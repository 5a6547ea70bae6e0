/** The Promise facade for hosts that do not use Effect (docs/embedding.md). */
export { BackgroundRefresh } from "./background-refresh.ts";
export { type Baton, type BatonEvent, type CreateBatonOptions, createBaton } from "./create-baton.ts";
