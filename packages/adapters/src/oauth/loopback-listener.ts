/**
 * The loopback redirect listener of a native-app login (RFC 8252 §7.3): an HTTP server on 127.0.0.1 (never a
 * wildcard address; the IP literal rather than "localhost", RFC 8252 §8.3) on a port the OS picks, which hands the
 * first request to `/callback` to the login flow and lets the flow answer it with a small page once the code has
 * been exchanged. Other paths get 404; later callbacks get 409. Pages are `no-store` and `no-referrer` (the callback
 * URL carries the authorization code). `close()` stops listening and drops every connection; it is idempotent.
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 */
import type { ServerResponse } from "node:http";
import { nodeHttp } from "./node-http.ts";

export const CALLBACK_PATH = "/callback";
export const LOOPBACK_ADDRESS = "127.0.0.1";

export interface CallbackRequest {
  /** The full callback URL, with the authorization response parameters. */
  readonly url: URL;
  /** Sends the page shown in the browser; resolves once it is written. */
  readonly respond: (status: number, html: string) => Promise<void>;
}

export interface LoopbackListener {
  readonly port: number;
  /** `http://127.0.0.1:PORT/callback`. */
  readonly redirectUri: string;
  /** The first callback request (the same one on every call). */
  readonly callback: Promise<CallbackRequest>;
  readonly close: () => Promise<void>;
}

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
  connection: "close",
};

const plain = (response: ServerResponse, status: number, text: string): void => {
  response.writeHead(status, { ...PAGE_HEADERS, "content-type": "text/plain; charset=utf-8" });
  response.end(`${text}\n`);
};

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

/** A minimal page for the browser tab. `detail` must already be free of secrets. */
export const page = (title: string, detail: string): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>baton: ${escapeHtml(title)}</title>` +
  `<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}</style></head>` +
  `<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(detail)}</p></body></html>\n`;

/** Starts listening on 127.0.0.1 with an ephemeral port. */
export const listen = (): Promise<LoopbackListener> =>
  new Promise((resolveListener, rejectListener) => {
    const server = nodeHttp().createServer();
    let deliver: (request: CallbackRequest) => void = () => undefined;
    const callback = new Promise<CallbackRequest>((resolve) => {
      deliver = resolve;
    });
    let delivered = false;
    let closed: Promise<void> | undefined;

    server.on("request", (request, response) => {
      const url = new URL(request.url ?? "/", `http://${LOOPBACK_ADDRESS}`);
      if (request.method !== "GET" || url.pathname !== CALLBACK_PATH) {
        request.resume();
        plain(response, 404, "not found");
        return;
      }
      if (delivered) {
        plain(response, 409, "this login has already received its answer");
        return;
      }
      delivered = true;
      deliver({
        url,
        respond: (status, html) =>
          new Promise((done) => {
            if (response.writableEnded) {
              done();
              return;
            }
            response.writeHead(status, PAGE_HEADERS);
            response.end(html, () => done());
            response.once("close", () => done());
          }),
      });
    });

    server.once("error", rejectListener);
    server.listen({ host: LOOPBACK_ADDRESS, port: 0, exclusive: true }, () => {
      server.off("error", rejectListener);
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        rejectListener(new Error("the loopback listener has no TCP port"));
        return;
      }
      resolveListener({
        port: address.port,
        redirectUri: `http://${LOOPBACK_ADDRESS}:${address.port}${CALLBACK_PATH}`,
        callback,
        close: () => {
          closed ??= new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          });
          return closed;
        },
      });
    });
  });
