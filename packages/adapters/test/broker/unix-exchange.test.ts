/**
 * The hand-written HTTP/1.1 exchange of thin clients on a unix socket (broker/unix-exchange.ts): answers with a
 * Content-Length, chunked, or delimited by the end of the connection are read whole; an answer cut short, or one that
 * is not HTTP, is a failure — never a partial body taken for a whole one.
 */
import { describe, expect, it } from "vitest";
import { ExchangeFailure, parseAnswer } from "../../src/broker/unix-exchange.ts";

const answer = (text: string) => parseAnswer(Buffer.from(text, "latin1"));

describe("parseAnswer", () => {
  it("parseAnswer - should read the status, the headers in lower case and a body of Content-Length bytes", () => {
    const read = answer('HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 11\r\n\r\n{"a":"xyz"}');
    expect(read).toEqual({
      status: 429,
      headers: new Map([
        ["retry-after", "7"],
        ["content-length", "11"],
      ]),
      body: '{"a":"xyz"}',
    });
  });

  it("parseAnswer - should join a chunked body and read a body that ends with the connection", () => {
    expect(
      answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\n\r\n"),
    ).toMatchObject({ status: 200, body: "abcdefg" });
    expect(answer("HTTP/1.0 200 OK\r\n\r\nwhole rest")).toMatchObject({ status: 200, body: "whole rest" });
    expect(answer("HTTP/1.1 204\r\n\r\n")).toMatchObject({ status: 204, body: "" });
  });

  it("parseAnswer - should fail on an answer cut short in its headers, its Content-Length or its chunks", () => {
    for (const cut of [
      "HTTP/1.1 200 OK\r\nContent-Le",
      "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nonly ten b",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ]) {
      expect(answer(cut)).toBeInstanceOf(ExchangeFailure);
      expect(answer(cut)).toHaveProperty("code", expect.stringMatching(/^ECONNRESET$/));
    }
  });

  it("parseAnswer - should refuse what is not an HTTP/1.x answer", () => {
    expect(answer("SSH-2.0-OpenSSH_9.2\r\n\r\n")).toHaveProperty("code", "HPE_INVALID_STATUS");
    expect(answer("HTTP/2 200\r\n\r\n")).toHaveProperty("code", "HPE_INVALID_STATUS");
  });
});
