"""BAD INPUT: named probes for every known kind of hostile request, transport abuse (malformed chunking, HTTP/1.0,
slowloris), a property-based fuzzer (hypothesis) over every JSON endpoint, and the answer path with an upstream whose
replies are empty, truncated, non-UTF-8 or full of bracketed numbers. Properties: no 5xx for a client's mistake, the
process never dies, every error body is {"error": {"code", "message"}} and bounded, no request hangs."""
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

import cases
import harness
import httpraw
from common import error_body_problem, error_code, log_part, wait_until
from harness import log

PART = "bad-input"
MAX_ERROR_BODY = 16384
ALLOWED_5XX = {"provider_disabled"}  # documented: a provider the request names is not configured

J = "application/json"


def chat(**extra):
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    body.update(extra)
    return body


def raw_json(template, key, token):
    """template with key's value replaced by a raw JSON token."""
    value = dict(template)
    value[key] = cases.Raw(token)
    return cases.encode(value)


# (name, method, path, body bytes or None, expected statuses (None: any non-5xx), extra check or None)
def probes():
    ask = {"question": "What is the RPO?", "tenant": "docs"}
    gen = {"prompt": "hi"}
    aichat = {"provider": "auto", "messages": [{"role": "user", "content": "hi"}]}
    big = 9223372036854775807
    out = []
    for path, tmpl in (("/v1/chat/completions", chat()), ("/api/ai/chat", aichat), ("/api/ai/generate", gen)):
        out += [
            (f"{path} max_tokens 9223372036854775807", "POST", path, raw_json(tmpl, "max_tokens", str(big)), {400, 422}, None),
            (f"{path} max_tokens 1e309", "POST", path, raw_json(tmpl, "max_tokens", "1e309"), {400}, None),
            (f"{path} max_tokens -1", "POST", path, raw_json(tmpl, "max_tokens", "-1"), {400}, None),
            (f"{path} max_tokens 0", "POST", path, raw_json(tmpl, "max_tokens", "0"), {400}, None),
            (f"{path} max_tokens 1.5 (a number, not a JSON syntax error)", "POST", path,
             raw_json(tmpl, "max_tokens", "1.5"), {400}, "not_invalid_json"),
            (f"{path} max_tokens \"16\"", "POST", path, raw_json(tmpl, "max_tokens", '"16"'), {400}, None),
            (f"{path} temperature 1e309", "POST", path, raw_json(tmpl, "temperature", "1e309"), {400}, None),
            (f"{path} provider \"\"", "POST", path, cases.encode(dict(tmpl, provider="")), {200, 400}, None),
            (f"{path} 900 KB model name", "POST", path, cases.encode(dict(tmpl, model="m" * 900_000)), {400, 404}, None),
            (f"{path} 100,000-deep nesting", "POST", path, raw_json(tmpl, "tenant", "[" * 100000 + "]" * 100000), {400}, None),
            (f"{path} NUL in content", "POST", path, cases.encode(
                dict(tmpl, messages=[{"role": "user", "content": "a\u0000b"}], prompt="a\u0000b")), None, None),
            (f"{path} lone surrogate escape", "POST", path, cases.encode(
                dict(tmpl, messages=[{"role": "user", "content": "a\ud800b"}], prompt="a\ud800b"), ascii=True), None, None),
            (f"{path} invalid UTF-8 in content", "POST", path,
             cases.encode(dict(tmpl, messages=[{"role": "user", "content": "XX"}], prompt="XX")).replace(b"XX", b"\xff\xc3\x28"),
             {400}, None),
            (f"{path} requirements.max_cost -1", "POST", path, cases.encode(dict(tmpl, requirements={"max_cost": -1})), {400}, None),
            (f"{path} fallback 12345", "POST", path, cases.encode(dict(tmpl, fallback=12345)), {400}, None),
            (f"{path} tenant 'bad tenant!'", "POST", path, cases.encode(dict(tmpl, tenant="bad tenant!")), {400}, None),
            (f"{path} 20,000 messages", "POST", path, cases.encode(dict(tmpl, messages=[{"role": "user", "content": "x"}] * 20000)), None, None),
        ]
    out += [
        ("/v1/chat/completions max_completion_tokens 9223372036854775807", "POST", "/v1/chat/completions",
         raw_json(chat(), "max_completion_tokens", str(big)), {400, 422}, None),
        ("/v1/chat/completions stream true", "POST", "/v1/chat/completions", cases.encode(chat(stream=True)), {200}, "sse_done"),
        ("/v1/chat/completions stream \"yes\"", "POST", "/v1/chat/completions", cases.encode(chat(stream="yes")), {400}, None),
        ("/v1/chat/completions messages []", "POST", "/v1/chat/completions", cases.encode(chat(messages=[])), {400}, None),
        ("/v1/chat/completions content \"\"", "POST", "/v1/chat/completions",
         cases.encode(chat(messages=[{"role": "user", "content": ""}])), None, None),
        ("/v1/embeddings 262,000 empty inputs", "POST", "/v1/embeddings",
         b'{"model":"local","input":[' + b",".join([b'""'] * 262000) + b"]}", {400, 413}, None),
        ("/v1/embeddings input 1e309", "POST", "/v1/embeddings", b'{"model":"local","input":1e309}', {400}, None),
        ("/v1/embeddings input \"\"", "POST", "/v1/embeddings", b'{"model":"local","input":""}', None, None),
        ("/v1/embeddings unknown model", "POST", "/v1/embeddings", b'{"model":"nope/nope","input":"x"}', {400, 404}, None),
        ("/api/rag/ask NUL in question", "POST", "/api/rag/ask", cases.encode(dict(ask, question="a\u0000b")), {200, 400}, None),
        ("/api/rag/ask question of NULs", "POST", "/api/rag/ask", cases.encode(dict(ask, question="\u0000" * 50)), {200, 400}, None),
        ("/api/rag/ask 'a' + 150,000 combining marks", "POST", "/api/rag/ask",
         cases.encode(dict(ask, question="a" + "\u0301" * 150000)), {400}, None),
        ("/api/rag/ask question of 4,001 characters", "POST", "/api/rag/ask", cases.encode(dict(ask, question="a" * 4001)), {400}, None),
        ("/api/rag/ask question of 4,000 characters", "POST", "/api/rag/ask", cases.encode(dict(ask, question="a " * 2000)), {200}, None),
        ("/api/rag/ask question \"\"", "POST", "/api/rag/ask", cases.encode(dict(ask, question="")), {400}, None),
        ("/api/rag/ask question \"   \"", "POST", "/api/rag/ask", cases.encode(dict(ask, question="   ")), {400}, None),
        ("/api/rag/ask question 42", "POST", "/api/rag/ask", b'{"question":42}', {400}, None),
        ("/api/rag/ask top_k 1.5 (a number, not a JSON syntax error)", "POST", "/api/rag/ask",
         raw_json(ask, "top_k", "1.5"), {400}, "not_invalid_json"),
        ("/api/rag/ask top_k 9223372036854775807", "POST", "/api/rag/ask", raw_json(ask, "top_k", str(big)), {400}, None),
        ("/api/rag/ask top_k 9223372036854775808", "POST", "/api/rag/ask", raw_json(ask, "top_k", "9223372036854775808"), {400}, None),
        ("/api/rag/ask top_k 0", "POST", "/api/rag/ask", raw_json(ask, "top_k", "0"), {400}, None),
        ("/api/rag/ask top_k -1", "POST", "/api/rag/ask", raw_json(ask, "top_k", "-1"), {400}, None),
        ("/api/rag/ask top_k 1e309", "POST", "/api/rag/ask", raw_json(ask, "top_k", "1e309"), {400}, None),
        ("/api/rag/ask stop words only (empty tenant)", "POST", "/api/rag/ask",
         cases.encode({"question": "the and of is", "tenant": "empty"}), {200}, None),
        ("/api/rag/ask emoji question", "POST", "/api/rag/ask", cases.encode(dict(ask, question="🎉")), {200}, None),
        ("/api/rag/ask unknown tenant", "POST", "/api/rag/ask", cases.encode(dict(ask, tenant="nope")), {404}, None),
        ("/api/rag/ask tenant of 64 characters", "POST", "/api/rag/ask", cases.encode(dict(ask, tenant="a" * 64)), {400}, None),
        ("/api/rag/ask unknown fields", "POST", "/api/rag/ask", cases.encode(dict(ask, bogus={"x": [1, 2]}, **{"": 1})), {200, 400}, None),
        ("/api/rag/ask duplicate keys", "POST", "/api/rag/ask", b'{"question":"a","question":"b","tenant":"docs"}', {200, 400}, None),
        ("/api/rag/ask body 'null'", "POST", "/api/rag/ask", b"null", {400}, None),
        ("/api/rag/ask body '[]'", "POST", "/api/rag/ask", b"[]", {400}, None),
        ("/api/rag/ask body '{}'", "POST", "/api/rag/ask", b"{}", {400}, None),
        ("/api/rag/ask empty body", "POST", "/api/rag/ask", b"", {400}, None),
        ("/api/rag/ask UTF-8 BOM", "POST", "/api/rag/ask", b"\xef\xbb\xbf" + cases.encode(ask), {200, 400}, None),
        ("/api/rag/ask UTF-16 body", "POST", "/api/rag/ask", json.dumps(ask).encode("utf-16"), {200, 400}, None),
        ("/api/rag/ask body over 1 MiB", "POST", "/api/rag/ask",
         cases.encode(dict(ask, question="x" * (cases.MAX_BODY + 1))), {413}, None),
        ("/api/usage from=notadate", "GET", "/api/usage?from=notadate", None, {400}, None),
        ("/api/usage group_by=bogus", "GET", "/api/usage?group_by=bogus", None, {400}, None),
        ("/api/usage from=99999999999999999999", "GET", "/api/usage?from=99999999999999999999", None, {400}, None),
        ("/api/usage from=1e309", "GET", "/api/usage?from=1e309", None, {400}, None),
        ("/api/usage from=2026-13-45", "GET", "/api/usage?from=2026-13-45", None, {400}, None),
        ("/api/usage tenant=%00", "GET", "/api/usage?tenant=%00", None, {200, 400}, None),
        ("/api/usage bad percent-encoding", "GET", "/api/usage?tenant=%zz&from=%", None, {200, 400}, None),
        ("/api/usage to before from", "GET", "/api/usage?from=2026-11-27&to=2026-01-01", None, {200, 400}, None),
        ("unknown route", "GET", "/nope", None, {404}, None),
        ("unknown route with a long path", "GET", "/" + "a" * 8000, None, {404, 414, 431}, None),
    ]
    for method, path in (("GET", "/v1/chat/completions"), ("GET", "/api/rag/ask"), ("PUT", "/api/ai/chat"),
                         ("DELETE", "/api/ai/generate"), ("GET", "/v1/embeddings"), ("POST", "/v1/models"),
                         ("POST", "/health"), ("POST", "/ready"), ("POST", "/metrics"), ("POST", "/api/usage"),
                         ("DELETE", "/api/providers"), ("PATCH", "/api/rag/ask")):
        out.append((f"wrong method: {method} {path} → 405", method, path, b"{}" if method != "GET" else None, {405}, None))
    return out


def transport_probes():
    """(name, raw request bytes, expected statuses or None for any non-5xx, 'close' if the server must close after)"""
    ask = json.dumps({"question": "What is the RPO?", "tenant": "docs"}).encode()
    h = b"POST /api/rag/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    chunked = h + b"Transfer-Encoding: chunked\r\n\r\n"
    return [
        ("valid chunked body", chunked + b"%x\r\n" % len(ask) + ask + b"\r\n0\r\n\r\n", {200}, None),
        ("malformed chunk-size line 'zz'", chunked + b"zz\r\n" + ask + b"\r\n0\r\n\r\n", {400}, None),
        ("chunk-size overflow", chunked + b"ffffffffffffffffffff\r\n" + ask + b"\r\n0\r\n\r\n", {400, 413}, None),
        ("negative chunk size", chunked + b"-5\r\n" + ask + b"\r\n0\r\n\r\n", {400}, None),
        ("chunk data longer than its size", chunked + b"3\r\n" + ask + b"\r\n0\r\n\r\n", {400}, None),
        ("chunked plus content-length", h + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
         + b"%x\r\n" % len(ask) + ask + b"\r\n0\r\n\r\n", {200, 400}, None),
        ("two content-lengths that disagree", h + b"Content-Length: %d\r\nContent-Length: 3\r\n\r\n" % len(ask) + ask,
         {400}, None),
        ("content-length not a number", h + b"Content-Length: abc\r\n\r\n" + ask, {400}, None),
        ("garbage request line", b"GARBAGE\r\n\r\n", {400}, None),
        ("NUL in the request line", b"GET /health\x00 HTTP/1.1\r\nHost: x\r\n\r\n", {400}, None),
        ("header line without a colon", b"GET /health HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", {400}, None),
        ("100 KB header", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", {200, 400, 431}, None),
        ("HTTP/1.0 GET without keep-alive: answered, then closed", b"GET /health HTTP/1.0\r\n\r\n", {200}, "close"),
        ("HTTP/1.0 POST without keep-alive: answered, then closed",
         b"POST /api/rag/ask HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(ask) + ask,
         {200}, "close"),
        ("HTTP/1.1 Connection: close: answered, then closed", b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
         {200}, "close"),
        ("HTTP/0.9 request", b"GET /health\r\n\r\n", {400, 505}, None),
        ("HTTP/2 preface on HTTP/1.1", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {400, 505}, None),
    ]


def send_and_watch_close(port, raw, seconds):
    """Sends raw bytes on a new connection; returns (Response with status and body, whether the server closed the
    connection within `seconds` of the start)."""
    r = httpraw.Response()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    start = time.monotonic()
    s.sendall(raw)
    data, closed = b"", False
    while time.monotonic() - start < seconds:
        s.settimeout(max(0.05, seconds - (time.monotonic() - start)))
        try:
            chunk = s.recv(65536)
        except (socket.timeout, TimeoutError):
            break
        except OSError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        data += chunk
    s.close()
    r.elapsed = time.monotonic() - start
    if data.startswith(b"HTTP/"):
        head, _, body = data.partition(b"\r\n\r\n")
        r.status = int(head.split(b" ")[1])
        r.body = body
    else:
        r.error = "eof" if closed else "timeout"
    return r, closed


class Fuzzer:
    """Runs generated cases against a server in batches, checks each answer, restarts the server when it dies, and
    names the request that killed it by replaying the suspects one at a time."""

    def __init__(self, ctx, app, workers=4, batch=32, timeout=20.0):
        self.ctx = ctx
        self.app = app
        self.workers = workers
        self.batch_size = batch
        self.timeout = timeout
        self.batch = []
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(workers)
        self.sent = 0
        self.statuses = {}
        self.failures = {}   # signature -> (count, smallest Case, response summary)
        self.crashes = []    # (Case or None, detail)
        self.restarts = 0
        self.max_restarts = 12

    def conn(self):
        c = getattr(self.local, "conn", None)
        if c is None or c.port != self.app.port:
            c = self.local.conn = httpraw.Connection(self.app.port, timeout=self.timeout)
        return c

    def send(self, case):
        headers = dict(case.headers)
        method = getattr(case, "method", "POST")
        if case.content_type:
            headers.setdefault("Content-Type", case.content_type)
        raw = httpraw.build(method, case.endpoint, case.body if method != "GET" else None, headers, content_type=None)
        return self.conn().request(method, case.endpoint, raw=raw, timeout=self.timeout)

    def add(self, case):
        self.batch.append(case)
        if len(self.batch) >= self.batch_size:
            self.flush()

    def flush(self):
        batch, self.batch = self.batch, []
        if not batch:
            return
        responses = list(self.pool.map(self.send, batch))
        self.sent += len(batch)
        # a crashing process can take seconds to print its backtrace and exit: when an answer is missing, wait for it
        died = wait_dead(self.app, 10 if any(r.status is None for r in responses) else 0)
        for case, r in zip(batch, responses):
            key = str(r.status) if r.status else f"no answer ({r.error})"
            self.statuses[key] = self.statuses.get(key, 0) + 1
            if not died or r.status:
                self.judge(case, r)
        if died:
            suspects = [c for c, r in zip(batch, responses) if r.status is None]
            self.investigate(suspects or batch)

    def judge(self, case, r):
        problems = []
        if r.status is None:
            problems.append(("no answer", r.error))
        else:
            code = error_code(r) if r.status >= 400 else None
            if r.status >= 500 and code not in ALLOWED_5XX:
                problems.append((f"{r.status}", code))
            if r.status >= 400:
                why = error_body_problem(r, MAX_ERROR_BODY)
                if why:
                    problems.append(("bad error body", why.split(":")[0]))
            if r.status == 400 and case.valid_json() and b"not valid JSON" in r.body:
                problems.append(("valid JSON reported as 'not valid JSON'", None))
            if len(case.body) > cases.MAX_BODY and r.status not in (413,) and case.endpoint != "/api/usage":
                problems.append(("body over the limit not refused with 413", str(r.status)))
            if r.elapsed > 10:
                problems.append(("slow answer (> 10 s)", None))
        for what, detail in problems:
            sig = (case.endpoint, what, detail)
            count, best, summary = self.failures.get(sig, (0, None, None))
            if best is None or len(case.body) < len(best.body):
                best, summary = case, f"{r.status or r.error} {r.body[:200]!r}"
            self.failures[sig] = (count + 1, best, summary)

    def restart(self):
        if self.restarts >= self.max_restarts:
            return False
        self.restarts += 1
        try:
            self.app.start()
            return True
        except RuntimeError as exc:
            log(f"restart failed: {exc}")
            return False

    def investigate(self, suspects):
        """The server died during a batch: replay each suspect alone on a restarted server to find the killer."""
        tail = " | ".join(self.app.log_grep("Fatal error", "fatal", "overflow", "Crash", "error:", n=3))
        if not self.restart():
            self.crashes.append((None, f"server died and could not be restarted; log: {tail}"))
            raise StopFuzz()
        found = False
        for case in suspects[:8]:
            r = httpraw.once(self.app.port, getattr(case, "method", "POST"), case.endpoint,
                             raw=httpraw.build(getattr(case, "method", "POST"), case.endpoint, case.body,
                                               {"Content-Type": case.content_type} if case.content_type else {},
                                               content_type=None), timeout=self.timeout)
            if wait_dead(self.app, 10 if r.status is None else 0.3):
                tail = " | ".join(self.app.log_grep("Fatal error", "fatal", "overflow", "Crash", n=3))
                self.crashes.append((case, tail))
                found = True
                if not self.restart():
                    raise StopFuzz()
                break  # one killer per batch is enough (each replay that kills costs a restart)
        if not found:
            self.crashes.append((None, f"server died during a batch; no single request of it kills it alone; log: {tail}"))


def wait_dead(app, seconds):
    """True when the server process has exited, or exits within `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        if not app.alive():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


class StopFuzz(Exception):
    pass


def fuzz_endpoint(fuzzer, strategy, n, seconds, seed):
    """Feeds up to n generated cases to the fuzzer within `seconds`. Stopping early raises StopFuzz inside the test,
    the only way to end hypothesis's loop; it raises again on any replay, so hypothesis sees a steady failure."""
    deadline = time.monotonic() + seconds
    state = {"stop": False}

    @settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), print_blob=False)
    @hypothesis_seed(seed)
    @given(case=strategy)
    def test(case):
        if state["stop"] or time.monotonic() > deadline:
            state["stop"] = True
            raise StopFuzz()
        try:
            fuzzer.add(case)
        except StopFuzz:
            state["stop"] = True
            raise

    try:
        test()
    except Exception as exc:  # StopFuzz, or hypothesis's wrapping of it
        if not state["stop"]:
            log(f"fuzzing ended early: {type(exc).__name__}: {str(exc)[:200]}")
    try:
        fuzzer.flush()
    except StopFuzz:
        pass


class UsageCase(cases.Case):
    method = "GET"

    def __init__(self, path):
        super().__init__(path, "query", b"", content_type=None)


def run(ctx):
    log_part("BAD INPUT")
    res = ctx.results
    app = ctx.app
    hold = ctx.args.idle_limit

    # slowloris: partial requests held open on a server of their own (a crash of the main one must not close them),
    # opened when the suite started (so that the hold overlaps the other parts); checked at the end of this part
    if getattr(ctx, "slowloris", None) is None:
        start_slowloris(ctx)
    slow_app, sl = ctx.slowloris

    # -- named probes
    log("named probes")
    crashes = []
    for name, method, path, body, expect, extra in probes():
        r = httpraw.once(app.port, method, path, body=body, timeout=20, max_body=32 * 1024 * 1024)
        alive = not wait_dead(app, 10 if r.status is None else 0.05)
        problems = []
        if not alive:
            problems.append("the server process died")
            crashes.append(name)
            tail = " | ".join(app.log_grep("Fatal error", "fatal", "overflow", n=2))
            if tail:
                problems.append(f"log: {tail[:300]}")
            app.start()
        if r.status is None:
            problems.append(f"no answer ({r.error} after {r.elapsed:.1f} s)")
        else:
            code = error_code(r) if r.status >= 400 else None
            if r.status >= 500 and code not in ALLOWED_5XX:
                problems.append(f"{r.status} {code}")
            elif expect is not None and r.status not in expect:
                problems.append(f"{r.status} {code or ''} (expected {'/'.join(map(str, sorted(expect)))})")
            if r.status >= 400 and error_body_problem(r, MAX_ERROR_BODY):
                problems.append(error_body_problem(r, MAX_ERROR_BODY))
            if extra == "not_invalid_json" and b"not valid JSON" in r.body:
                problems.append("message says the body 'is not valid JSON' although it is")
            if extra == "sse_done" and b"data: [DONE]" not in r.body:
                problems.append("stream did not end with data: [DONE]")
        peak = app.rss()
        res.check(PART, f"probe: {name}", not problems,
                  ("; ".join(problems) if problems else f"{r.status} {error_code(r) or ''} in {r.elapsed * 1000:.0f} ms")
                  + (f", server peak RSS {peak[1] // 1024} MiB" if "262,000" in name and peak else ""),
                  repro=ctx.curl(method, path, body))
    hwm = app.rss()
    res.check(PART, "peak server memory (VmHWM) stays under 1 GiB through the probes", hwm and hwm[1] < 1024 * 1024,
              f"VmHWM {hwm and hwm[1] // 1024} MiB")

    log("transport probes")
    for name, raw, expect, after in transport_probes():
        if after == "close":
            r, closed = send_and_watch_close(app.port, raw, 3)
        else:
            r, closed = httpraw.once(app.port, "RAW", "", raw=raw, timeout=15), None
        time.sleep(0.05)
        problems = []
        if not app.alive():
            problems.append("the server process died")
            app.start()
        if r.status is None and not (expect and 400 in expect and r.error in ("eof", "reset")):
            problems.append(f"no answer ({r.error})")
        elif r.status is not None:
            if r.status >= 500:
                problems.append(f"{r.status} {error_code(r)}")
            elif expect and r.status not in expect:
                problems.append(f"{r.status} (expected {'/'.join(map(str, sorted(expect)))})")
        if closed is False:
            problems.append("the server left the connection open after the answer (3 s)")
        res.check(PART, f"transport: {name}", not problems,
                  "; ".join(problems) if problems else f"{r.status or r.error}",
                  repro=f"python3 -c \"import socket; s=socket.create_connection(('127.0.0.1', 8000)); "
                        f"s.sendall({raw[:160]!r}{' + …' if len(raw) > 160 else ''}); s.settimeout(5); print(s.recv(4096)); print(s.recv(1))\"")

    # -- the property-based fuzzer, endpoint by endpoint
    n = ctx.args.cases or (300 if ctx.quick else 2000)
    seconds = 25 if ctx.quick else 75
    fuzz_figures = {}
    for i, endpoint in enumerate(list(cases.ENDPOINTS) + ["/api/usage"]):
        log(f"fuzzing {endpoint}: up to {n} cases, {seconds} s")
        fuzzer = Fuzzer(ctx, app)
        start = time.monotonic()
        strategy = cases.case(endpoint) if endpoint != "/api/usage" else cases.usage_query().map(UsageCase)
        fuzz_endpoint(fuzzer, strategy, n, seconds, ctx.args.seed + i)
        took = time.monotonic() - start
        fuzz_figures[endpoint] = {"cases": fuzzer.sent, "seconds": round(took, 1), "statuses": fuzzer.statuses,
                                  "failures": sum(c for c, _, _ in fuzzer.failures.values()),
                                  "crashes": len(fuzzer.crashes), "restarts": fuzzer.restarts}
        res.check(PART, f"fuzz {endpoint}: thousands of cases ran" if not ctx.quick else f"fuzz {endpoint}: cases ran",
                  fuzzer.sent >= (n if ctx.quick else min(n, 1000)),
                  f"{fuzzer.sent} cases in {took:.0f} s, statuses {dict(sorted(fuzzer.statuses.items()))}")
        crash_detail = "; ".join(
            (f"{ctx.describe_body(c.body)}" if c else "") + (f" [{d[:200]}]" if d else "") for c, d in fuzzer.crashes[:3])
        res.check(PART, f"fuzz {endpoint}: the process never died", not fuzzer.crashes,
                  f"{len(fuzzer.crashes)} crashes, {fuzzer.restarts} restarts" + (f": {crash_detail}" if crash_detail else ""),
                  repro="\n".join(ctx.curl(getattr(c, "method", "POST"), c.endpoint, c.body if getattr(c, "method", "POST") != "GET" else None,
                                           content_type=c.content_type) for c, _ in fuzzer.crashes[:3] if c))
        by_kind = {}
        for (ep, what, detail), (count, best, summary) in sorted(fuzzer.failures.items(), key=lambda x: -x[1][0]):
            by_kind.setdefault(what, []).append((detail, count, best, summary))
        for label, kinds in (("0 × 5xx for client mistakes", lambda w: w[0] == "5"),
                             ("every request answered (no hang, no dropped connection)", lambda w: w == "no answer"),
                             ("error bodies are {error: {code, message}} within 16 KiB", lambda w: w == "bad error body"),
                             ("bodies over the limit get 413", lambda w: w.startswith("body over")),
                             ("valid JSON never called 'not valid JSON'", lambda w: w.startswith("valid JSON")),
                             ("no answer slower than 10 s", lambda w: w.startswith("slow"))):
            found = [(w, d, c, b, s) for w, lst in by_kind.items() if kinds(w) for d, c, b, s in lst]
            total = sum(c for _, _, c, _, _ in found)
            detail = "; ".join(f"{c} × {w} {d or ''} (smallest: {ctx.describe_body(b.body, 100)} → {s[:120]})"
                               for w, d, c, b, s in found[:4])
            res.check(PART, f"fuzz {endpoint}: {label}", total == 0, detail or f"0 of {fuzzer.sent}",
                      repro="\n".join(ctx.curl(getattr(b, "method", "POST"), b.endpoint,
                                               b.body if getattr(b, "method", "POST") != "GET" else None,
                                               content_type=b.content_type) for _, _, _, b, _ in found[:4]))
        fuzzer.pool.shutdown(wait=True)
    res.figure(PART, "fuzz", fuzz_figures)

    # -- the answer path: a misbehaving upstream writes /api/rag/ask answers
    answer_path(ctx)

    # -- slowloris: partial requests and idle connections must be closed by the server
    remaining = hold - (time.monotonic() - sl.opened_at)
    if remaining > 0:
        log(f"slowloris: waiting {remaining:.0f} s more (connections held {hold} s in all)")
    r = httpraw.once(slow_app.port, "POST", "/api/rag/ask", body=b'{"question": "What is the RPO?", "tenant": "docs"}', timeout=5)
    res.check(PART, f"slowloris: {len(sl.many)} partial requests held open do not stop service", r.status == 200 and r.elapsed < 2,
              f"/api/rag/ask {r.status or r.error} in {r.elapsed * 1000:.0f} ms")
    time.sleep(max(0, remaining))
    for name, s in sl.singles.items():
        closed = httpraw.closed_within(s, 1)
        res.check(PART, f"slowloris: {name} is closed by the server within {hold} s", closed,
                  "closed" if closed else f"still open after {time.monotonic() - sl.opened_at:.0f} s",
                  repro=f"python3 -c \"import socket,time; s=socket.create_connection(('127.0.0.1',8000)); "
                        f"s.sendall({SLOW[name]!r}); time.sleep({hold}); s.settimeout(1); print('closed' if s.recv(1)==b'' else 'open')\"")
    open_many = sum(1 for s in sl.many if not httpraw.closed_within(s, 0.01))
    res.check(PART, f"slowloris: the {len(sl.many)} partial requests were closed too", open_many == 0,
              f"{open_many} still open")
    sl.close()
    res.check(PART, "slowloris: the server holding them survived", slow_app.alive(), f"pid {slow_app.pid}")
    slow_app.stop()
    res.check(PART, "the server process is alive at the end", app.alive(), f"pid {app.pid}")


def start_slowloris(ctx):
    slow_app = ctx.new_app()
    slow_app.start()
    sl = Slowloris(slow_app.port, many=100 if ctx.quick else 200)
    sl.open()
    ctx.slowloris = (slow_app, sl)


SLOW = {
    "a connection that sends nothing": b"",
    "a request line without headers' end": b"POST /api/rag/ask HTTP/1.1\r\nHost: 127.0.0.1\r\n",
    "a body shorter than its content-length": b"POST /api/rag/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                             b"Content-Length: 100\r\n\r\n{\"question\":",
    "an idle keep-alive connection after an answer": b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
}


class Slowloris:
    def __init__(self, port, many=200):
        self.port = port
        self.n = many
        self.singles = {}
        self.many = []
        self.opened_at = None

    def open(self):
        self.opened_at = time.monotonic()
        for name, data in SLOW.items():
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            if data:
                s.sendall(data)
            if name.startswith("an idle"):
                s.settimeout(5)
                s.recv(65536)  # the answer; then the connection idles
            self.singles[name] = s
        for i in range(self.n):
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                s.sendall(b"POST /api/rag/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-%d: " % i)
                self.many.append(s)
            except OSError:
                break

    def close(self):
        for s in list(self.singles.values()) + self.many:
            try:
                s.close()
            except OSError:
                pass


ANSWER_QUESTIONS = ["What is the RPO for tier 0 systems?", "How often must administrator passwords change?",
                    "the and of is", "?!?", "🎉", "[1]", "a", "x " * 1999]


def answer_path(ctx):
    """A second server whose --answer-model is an upstream that answers badly, over a populated and an empty tenant."""
    res = ctx.results
    log("answer path: /api/rag/ask with an upstream that answers badly")
    chaos = ctx.upstreams["chaos"]
    app = ctx.new_app(config=ctx.chaos_config, answer_model="chaos/fake-a")
    app.start()
    try:
        outcomes, problems, crashes = {}, [], []
        killers = set()  # (tenant, question) pairs that killed the server: not asked again (each restart costs seconds)
        for mode in [m for m in __import__("fake_upstream").MODES]:
            chaos.set_mode(mode)
            for tenant in ("docs", "empty"):
                for q in ANSWER_QUESTIONS:
                    if (tenant, q) in killers:
                        outcomes[f"{mode}:skipped"] = outcomes.get(f"{mode}:skipped", 0) + 1
                        continue
                    body = json.dumps({"question": q, "tenant": tenant}).encode()
                    r = httpraw.once(app.port, "POST", "/api/rag/ask", body=body, timeout=40)
                    wait_dead(app, 10 if r.status is None else 0.02)
                    key = f"{mode}:{r.status or r.error}"
                    outcomes[key] = outcomes.get(key, 0) + 1
                    why = judge_answer(mode, r)
                    if not app.alive():
                        crashes.append((mode, tenant, q, " | ".join(app.log_grep("Fatal error", "fatal", n=2))))
                        killers.add((tenant, q))
                        app.start()
                    elif why:
                        problems.append((mode, tenant, q, why))
        res.figure(PART, "answer_path_outcomes", outcomes)
        res.check(PART, f"answer path: the process never died over {len(fake_modes())} upstream reply kinds × "
                        f"{len(ANSWER_QUESTIONS)} questions × 2 tenants",
                  not crashes, "; ".join(f"{m} reply, tenant {t}, question {q[:30]!r} [{d[:160]}]" for m, t, q, d in crashes[:4]),
                  repro="\n".join(f"# upstream answering in mode '{m}' (e.g. '[1] [99] [0] [-1] [9223372036854775808]'), "
                                  f"serve --answer-model chaos/fake-a:\n"
                                  + ctx.curl("POST", "/api/rag/ask", json.dumps({"question": q, "tenant": t}).encode())
                                  for m, t, q, _ in crashes[:3]))
        res.check(PART, "answer path: every answer is 200 with sane citations, or a 502/504 JSON error (never 500)",
                  not problems, "; ".join(f"{m} reply, tenant {t}, question {q[:20]!r}: {w}" for m, t, q, w in problems[:5]),
                  repro="\n".join(f"# upstream mode {m}: " + ctx.curl("POST", "/api/rag/ask", json.dumps(
                      {"question": q, "tenant": t}).encode()) for m, t, q, _ in problems[:3]))

        # property-based: the upstream echoes the question, so hypothesis chooses the answer text
        chaos.set_mode("echo")
        n = 60 if ctx.quick else 600
        fuzzer = Fuzzer(ctx, app, workers=2, batch=16, timeout=40)
        fuzzer.max_restarts = 3  # each crash costs a restart: a few examples are enough
        holder = {"bad": []}

        def judge(case, r):
            why = judge_answer("echo", r)
            if why:
                holder["bad"].append((case, why))
        fuzzer.judge = judge
        strategy = st.tuples(cases.echo_answers, st.sampled_from(["docs", "empty"])).map(
            lambda qt: cases.Case("/api/rag/ask", "echo", json.dumps({"question": qt[0], "tenant": qt[1]}).encode()))
        fuzz_endpoint(fuzzer, strategy, n, 30 if ctx.quick else 90, ctx.args.seed + 99)
        fuzzer.pool.shutdown(wait=True)
        res.figure(PART, "answer_path_echo", {"cases": fuzzer.sent, "statuses": fuzzer.statuses,
                                              "crashes": len(fuzzer.crashes)})
        res.check(PART, f"answer path (property-based, {fuzzer.sent} answers chosen by hypothesis): never died",
                  not fuzzer.crashes,
                  "; ".join(f"{ctx.describe_body(c.body, 80) if c else ''} [{d[:150]}]" for c, d in fuzzer.crashes[:3]),
                  repro="\n".join("# upstream echoing the question as its answer:\n" + ctx.curl("POST", "/api/rag/ask", c.body)
                                  for c, _ in fuzzer.crashes[:3] if c))
        bad = holder["bad"]
        res.check(PART, "answer path (property-based): every answer 200 with citations n within 1..passages",
                  not bad, "; ".join(f"{ctx.describe_body(c.body, 80)}: {w}" for c, w in bad[:3]),
                  repro="\n".join("# upstream echoing the question as its answer:\n" + ctx.curl("POST", "/api/rag/ask", c.body)
                                  for c, _ in sorted(bad, key=lambda x: len(x[0].body))[:3]))
    finally:
        app.stop()


def fake_modes():
    return __import__("fake_upstream").MODES


# upstream replies that are well-formed chat completions: the server must answer 200 with them
GOOD_REPLIES = {"ok", "brackets", "brackets_many", "unterminated", "echo"}


def judge_answer(mode, r):
    if r.status == 400 and error_code(r) == "invalid_request" and not error_body_problem(r, MAX_ERROR_BODY):
        return None  # the question itself was invalid (empty, too long): a client mistake, answered as one
    if r.status is None:
        return f"no answer ({r.error})"
    if r.status == 500:
        return f"500 {error_code(r)}"
    if r.status >= 400:
        why = error_body_problem(r, MAX_ERROR_BODY)
        if why:
            return why
        if mode in GOOD_REPLIES:
            return f"{r.status} {error_code(r)} for a well-formed upstream answer"
        if r.status not in (502, 503, 504):
            return f"{r.status} {error_code(r)}"
        return None
    try:
        doc = json.loads(r.body)
    except ValueError:
        return "200 with a body that is not JSON"
    cites = doc.get("citations")
    if not isinstance(doc.get("answer"), str) or not isinstance(cites, list):
        return "200 without answer/citations"
    ns = [c.get("n") for c in cites]
    if any(not isinstance(n, int) or n < 1 or n > 50 for n in ns) or len(set(ns)) != len(ns):
        return f"citation numbers {ns[:10]}"
    return None
