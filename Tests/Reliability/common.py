"""Shared state of one suite run: results, the environment every part uses, reproduction lines."""
import json
import os
import shlex
import time

import harness
from harness import log


class Results:
    def __init__(self):
        self.checks = []     # (part, name, ok, detail)
        self.figures = {}    # part -> {key: value}
        self.repros = []     # (part, name, text)

    def check(self, part, name, ok, detail="", repro=None):
        self.checks.append((part, name, bool(ok), detail))
        mark = "ok  " if ok else "FAIL"
        print(f"  {mark} [{part}] {name}" + (f" — {detail}" if detail else ""), flush=True)
        if repro and not ok:
            self.repros.append((part, name, repro))
            for line in repro.splitlines():
                print(f"         repro: {line}", flush=True)
        return ok

    def figure(self, part, key, value):
        self.figures.setdefault(part, {})[key] = value

    def part_summary(self, part):
        mine = [c for c in self.checks if c[0] == part]
        passed = sum(1 for c in mine if c[2])
        return passed, len(mine) - passed

    def to_json(self):
        return {"checks": [{"part": p, "name": n, "ok": ok, "detail": d} for p, n, ok, d in self.checks],
                "figures": self.figures, "repros": [{"part": p, "name": n, "repro": r} for p, n, r in self.repros]}


class Context:
    """What the parts share: options, the work directory, PostgreSQL, the fake upstreams, the main server."""

    def __init__(self, args, results):
        self.args = args
        self.results = results
        self.quick = args.quick
        self.work = args.work
        self.binary = args.binary
        self.pg = None
        self.upstreams = {}
        self.config = None
        self.app = None
        self.db = "reliability"
        self.rate = args.rate
        self.repro_dir = os.path.join(self.work, "repro")
        os.makedirs(self.repro_dir, exist_ok=True)
        self._repro_n = 0

    def new_app(self, config=None, answer_model=None):
        return harness.Appliance(self.binary, self.work, self.pg.url(self.db), config=config or self.config,
                                 answer_model=answer_model)

    def save_repro(self, data):
        """Saves request bytes under the work directory; returns the path."""
        self._repro_n += 1
        path = os.path.join(self.repro_dir, f"case-{self._repro_n:03d}.bin")
        with open(path, "wb") as f:
            f.write(data)
        return path

    def curl(self, method, path, body=None, headers=None, content_type="application/json"):
        """A curl line reproducing a request against a server on 127.0.0.1:8000 (long or binary bodies go to a file)."""
        parts = ["curl", "-sS", "-i", "-X", method, f"http://127.0.0.1:8000{path}"]
        if body is not None and content_type:
            parts += ["-H", f"content-type: {content_type}"]
        for k, v in (headers or {}).items():
            parts += ["-H", f"{k}: {v}"]
        if body is not None:
            printable = False
            try:
                text = body.decode("utf-8")
                printable = len(text) <= 300 and all(c.isprintable() or c == " " for c in text)
            except UnicodeDecodeError:
                pass
            if printable:
                parts += ["--data-binary", text]
            else:
                parts += ["--data-binary", "@" + self.save_repro(body)]
        return " ".join(shlex.quote(p) for p in parts)

    def describe_body(self, body, limit=160):
        try:
            text = body.decode("utf-8")
            shown = json.dumps(text[:limit])
        except UnicodeDecodeError:
            shown = repr(body[:limit])
        return f"{len(body)} bytes: {shown}{'…' if len(body) > limit else ''}"


def wait_until(fn, timeout, interval=0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    return None


def error_body_problem(response, max_bytes=16384):
    """None when a 4xx/5xx body is JSON {"error": {"code": str, "message": str}} of at most max_bytes; else why not."""
    if len(response.body) > max_bytes:
        return f"error body is {len(response.body)} bytes (over {max_bytes})"
    try:
        doc = json.loads(response.body)
    except ValueError:
        return f"error body is not JSON: {response.body[:80]!r}"
    err = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(err, dict) or not isinstance(err.get("code"), str) or not isinstance(err.get("message"), str):
        return f"error body lacks error.code/error.message: {response.body[:120]!r}"
    return None


def error_code(response):
    try:
        return json.loads(response.body)["error"]["code"]
    except Exception:
        return None


def log_part(name):
    log(f"== {name}")
