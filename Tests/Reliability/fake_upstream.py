"""A fast fake OpenAI-compatible upstream for the reliability suite (asyncio, HTTP/1.1 keep-alive, 127.0.0.1 only).

Usage: python3 fake_upstream.py [--port N] [--name NAME] [--mode MODE] [--delay-ms MS]
Prints the port it listens on (one line), then serves until killed.

Routes:
  GET  /v1/models              a model list
  POST /v1/chat/completions    an answer, shaped by the current mode (JSON or SSE when "stream": true)
  POST /v1/embeddings          deterministic 8-dimensional vectors
  POST /__mode                 {"mode": "..."} sets the answer mode; replies {"mode": ...}
  GET  /__stats                {"requests", "chat", "max_request_bytes", "mode"}

Modes (what a chat answer looks like):
  ok             a normal chat.completion with usage
  empty          content ""
  null_content   content null
  nobody         200 with an empty body
  truncated      200 with a JSON body cut in the middle (content-length matches the cut body)
  cut            content-length promises more bytes than are sent, then the connection closes
  nonutf8        content with invalid UTF-8 bytes inside the JSON string
  brackets       "[1] [99] [0] [-1] [9223372036854775808]" and friends
  brackets_many  thousands of bracketed numbers
  unterminated   "see [1" and "[" without a closing bracket, "[]", "[,]", "[1,,2]"
  no_choices     {"choices": []}
  bad_json       200 with "not json at all"
  html           200 text/html page
  close          closes the connection without answering
  huge           a 3 MB answer made of "[1] " repeated
  error500       500 with an OpenAI error body
  echo           the last user message's text, as the answer (so a client chooses the answer)
  chaos          cycles through all of the above but echo, one per request
"""
import argparse
import asyncio
import itertools
import json
import time

MODES = [
    "ok", "empty", "null_content", "nobody", "truncated", "cut", "nonutf8", "brackets", "brackets_many",
    "unterminated", "no_choices", "bad_json", "html", "close", "huge", "error500",
]


class State:
    def __init__(self, name, mode, delay_ms):
        self.name = name
        self.mode = mode
        self.delay = delay_ms / 1000.0
        self.requests = 0
        self.chat = 0
        self.max_request_bytes = 0
        self.chaos = itertools.cycle(MODES)


def completion(model, content, usage=True):
    body = {
        "id": "chatcmpl-reliability",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}
    return body


def sse(model, content):
    base = {"id": "chatcmpl-reliability", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    events = [
        dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]),
        dict(base, choices=[{"index": 0, "delta": {"content": content}, "finish_reason": None}]),
        dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]),
        dict(base, choices=[], usage={"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}),
    ]
    out = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    return out + b"data: [DONE]\n\n"


BRACKETS = "Answer [1] [99] [0] [-1] [9223372036854775808] [18446744073709551616] [1, 2, 99] [ 1 ] [+1] [1e3] [0x1]."


def answer_for(mode, model, stream, echo=""):
    """(status, content_type, body bytes, action) where action is None, 'close' or 'cut'."""
    j = "application/json"
    if mode == "echo":
        content = echo
    elif mode == "ok":
        content = "The answer is 42 [1]."
    elif mode == "empty":
        content = ""
    elif mode == "brackets":
        content = BRACKETS
    elif mode == "brackets_many":
        content = " ".join(f"[{n}]" for n in itertools.chain(range(-50, 5000), [2**63, 2**64, -2**63 - 1]))
    elif mode == "unterminated":
        content = "see [1 and [ and [] and [,] and [1,,2] and ]] [[1]] [1"
    elif mode == "huge":
        content = "[1] " * 750_000
    elif mode == "null_content":
        return 200, j, json.dumps(completion(model, None)).encode(), None
    elif mode == "nobody":
        return 200, j, b"", None
    elif mode == "truncated":
        full = json.dumps(completion(model, "A complete answer [1] that is cut")).encode()
        return 200, j, full[: len(full) // 2], None
    elif mode == "cut":
        full = json.dumps(completion(model, "A complete answer [1]")).encode()
        return 200, j, full, "cut"
    elif mode == "nonutf8":
        full = json.dumps(completion(model, "XXXX [1] YYYY")).encode()
        return 200, j, full.replace(b"XXXX", b"\xff\xfe\xc3\x28").replace(b"YYYY", b"\xed\xa0\x80\xc0\xaf"), None
    elif mode == "no_choices":
        body = completion(model, "x")
        body["choices"] = []
        return 200, j, json.dumps(body).encode(), None
    elif mode == "bad_json":
        return 200, j, b"not json at all", None
    elif mode == "html":
        return 200, "text/html", b"<html><body>[1] upstream proxy page</body></html>", None
    elif mode == "close":
        return 0, j, b"", "close"
    elif mode == "error500":
        body = {"error": {"message": "The server had an error [1]", "type": "server_error", "code": None}}
        return 500, j, json.dumps(body).encode(), None
    else:
        content = "unknown mode"
    if stream:
        return 200, "text/event-stream", sse(model, content), None
    return 200, j, json.dumps(completion(model, content)).encode(), None


async def read_request(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    body = b""
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readline()
                break
            parts.append(await reader.readexactly(size))
            await reader.readline()
        body = b"".join(parts)
    return method, path, headers, body


def respond(writer, status, content_type, body, declared=None):
    reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}.get(status, "Status")
    length = len(body) if declared is None else declared
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {length}\r\n\r\n".encode() + body)


async def handle(state, reader, writer):
    try:
        while True:
            try:
                method, path, headers, body = await read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                break
            state.requests += 1
            state.max_request_bytes = max(state.max_request_bytes, len(body))
            if state.delay:
                await asyncio.sleep(state.delay)
            if method == "GET" and path.startswith("/v1/models"):
                data = {"object": "list", "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": state.name} for m in ("fake-a", "fake-b")]}
                respond(writer, 200, "application/json", json.dumps(data).encode())
            elif method == "GET" and path == "/__stats":
                data = {"requests": state.requests, "chat": state.chat, "max_request_bytes": state.max_request_bytes,
                        "mode": state.mode, "name": state.name}
                respond(writer, 200, "application/json", json.dumps(data).encode())
            elif method == "POST" and path == "/__mode":
                state.mode = json.loads(body)["mode"]
                respond(writer, 200, "application/json", json.dumps({"mode": state.mode}).encode())
            elif method == "POST" and path.endswith("/chat/completions"):
                state.chat += 1
                try:
                    request = json.loads(body)
                except ValueError:
                    request = {}
                model = request.get("model", "fake-a") if isinstance(request, dict) else "fake-a"
                stream = bool(request.get("stream")) if isinstance(request, dict) else False
                mode = next(state.chaos) if state.mode == "chaos" else state.mode
                echo = ""
                if mode == "echo" and isinstance(request, dict) and isinstance(request.get("messages"), list):
                    for m in request["messages"]:
                        if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str):
                            echo = m["content"]
                status, ctype, payload, action = answer_for(mode, str(model)[:100], stream, echo)
                if action == "close":
                    break
                if action == "cut":
                    respond(writer, status, ctype, payload[: len(payload) // 2], declared=len(payload))
                    await writer.drain()
                    break
                respond(writer, status, ctype, payload)
            elif method == "POST" and path.endswith("/embeddings"):
                try:
                    request = json.loads(body)
                    inputs = request.get("input", "")
                except (ValueError, AttributeError):
                    inputs = ""
                inputs = inputs if isinstance(inputs, list) else [inputs]
                data = {"object": "list", "model": "fake-embed", "usage": {"prompt_tokens": 1, "total_tokens": 1},
                        "data": [{"object": "embedding", "index": i,
                                  "embedding": [((hash(str(t)) >> k) % 97) / 97.0 for k in range(8)]}
                                 for i, t in enumerate(inputs)]}
                respond(writer, 200, "application/json", json.dumps(data).encode())
            else:
                respond(writer, 404, "application/json", b'{"error": {"message": "not found", "type": "invalid_request_error"}}')
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--name", default="fake")
    parser.add_argument("--mode", default="ok", choices=MODES + ["chaos", "echo"])
    parser.add_argument("--delay-ms", type=float, default=0)
    args = parser.parse_args()
    state = State(args.name, args.mode, args.delay_ms)
    server = await asyncio.start_server(lambda r, w: handle(state, r, w), "127.0.0.1", args.port, backlog=1024,
                                        limit=4 * 1024 * 1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
