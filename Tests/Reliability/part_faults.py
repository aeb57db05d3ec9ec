"""FAULTS: the primary upstream killed mid-load; PostgreSQL stopped and started mid-load and mid-ingest; the ingest
process and the server killed with SIGKILL mid-run. Checked: every request that had a fallback succeeds, 503s (never a
500 or a hang) while the database is away, and the knowledge base is consistent afterwards and completed by the next
ingest."""
import json
import os
import random
import threading
import time

import harness
import httpraw
from common import error_body_problem, error_code, log_part, wait_until
from harness import log

PART = "faults"
QUICK = 6  # seconds: "503 quickly" while PostgreSQL is down (a short connect deadline, not a hang)

WORDS = ("replication backup restore tier cluster shard failover latency quorum snapshot archive retention policy "
         "incident escalation warehouse carrier invoice ledger audit compliance encryption rotation credential "
         "vendor onboarding laptop badge parking holiday overtime payroll schedule inventory pallet forklift dock "
         "container customs tariff refund warranty escalation severity pager runbook dashboard alert metric").split()


def make_corpus(path, files, seed=7):
    """`files` Markdown documents of a few kilobytes each, deterministic."""
    rng = random.Random(seed)
    os.makedirs(path, exist_ok=True)
    for i in range(files):
        sub = os.path.join(path, f"area-{i % 10}")
        os.makedirs(sub, exist_ok=True)
        lines = [f"# Document {i}: {rng.choice(WORDS)} {rng.choice(WORDS)}", ""]
        for s in range(rng.randint(4, 9)):
            lines.append(f"## Section {s} on {rng.choice(WORDS)}")
            for _ in range(rng.randint(2, 5)):
                sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20)))
                lines.append(sentence.capitalize() + f" (ref {i}-{s}-{rng.randint(0, 999)}).")
            lines.append("")
        with open(os.path.join(sub, f"doc-{i:04d}.md"), "w") as f:
            f.write("\n".join(lines))
    return path


def consistency(ctx, tenant):
    """(problems list, figures) for one tenant: every document has chunks, ordinals 0..n-1, every chunk its
    embedding (for every embedding model any chunk of the tenant has)."""
    pg, db = ctx.pg, ctx.db
    t = f"(SELECT id FROM tenants WHERE name = '{tenant}')"
    docs = int(pg.sql(db, f"SELECT count(*) FROM documents WHERE tenant_id = {t}")[0][0])
    chunks = int(pg.sql(db, f"SELECT count(*) FROM chunks WHERE tenant_id = {t}")[0][0])
    no_chunks = int(pg.sql(db, f"""SELECT count(*) FROM documents d WHERE d.tenant_id = {t}
        AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = d.id)""")[0][0])
    gaps = int(pg.sql(db, f"""SELECT count(*) FROM (SELECT document_id, count(*) n, min(ordinal) lo, max(ordinal) hi
        FROM chunks WHERE tenant_id = {t} GROUP BY document_id) x WHERE lo <> 0 OR hi <> n - 1""")[0][0])
    no_embedding = int(pg.sql(db, f"""SELECT count(*) FROM chunks c WHERE c.tenant_id = {t} AND EXISTS (
        SELECT 1 FROM chunk_embeddings e0 WHERE e0.tenant_id = {t}) AND EXISTS (
        SELECT m.model_id FROM (SELECT DISTINCT model_id FROM chunk_embeddings WHERE tenant_id = {t}) m
        WHERE NOT EXISTS (SELECT 1 FROM chunk_embeddings e WHERE e.chunk_id = c.id AND e.model_id = m.model_id))""")[0][0])
    no_embedding_at_all = int(pg.sql(db, f"""SELECT count(*) FROM chunks c WHERE c.tenant_id = {t}
        AND NOT EXISTS (SELECT 1 FROM chunk_embeddings e WHERE e.chunk_id = c.id)""")[0][0])
    problems = []
    if no_chunks:
        problems.append(f"{no_chunks} documents without chunks")
    if gaps:
        problems.append(f"{gaps} documents with missing chunk ordinals")
    if no_embedding or no_embedding_at_all:
        problems.append(f"{max(no_embedding, no_embedding_at_all)} chunks without their embedding")
    return problems, {"documents": docs, "chunks": chunks}


def fingerprint(ctx, tenant):
    rows = ctx.pg.sql(ctx.db, f"""SELECT d.source_uri, d.content_sha256, count(c.id), md5(string_agg(c.text, '|' ORDER BY c.ordinal))
        FROM documents d JOIN chunks c ON c.document_id = d.id
        WHERE d.tenant_id = (SELECT id FROM tenants WHERE name = '{tenant}') GROUP BY d.source_uri, d.content_sha256""")
    return {r[0]: tuple(r[1:]) for r in rows}


def doc_count(ctx, tenant):
    try:
        return int(ctx.pg.sql(ctx.db, f"""SELECT count(*) FROM documents
            WHERE tenant_id = (SELECT id FROM tenants WHERE name = '{tenant}')""")[0][0])
    except Exception:
        return -1


class Prober:
    """One thread per kind of request, each sending it in a loop (bounded by a timeout) and keeping every outcome:
    a request that hangs holds up only its own kind."""

    def __init__(self, port, kinds, interval=0.3, timeout=20.0):
        self.port = port
        self.kinds = kinds
        self.interval = interval
        self.timeout = timeout
        self.outcomes = []  # (t, kind, Response)
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self.loop, args=(k,), daemon=True) for k in kinds]

    def loop(self, kind):
        method, path, body = self.kinds[kind]
        while not self.stop_flag.is_set():
            t = time.monotonic()
            r = httpraw.once(self.port, method, path, body=body, timeout=self.timeout)
            self.outcomes.append((t, kind, r))
            self.stop_flag.wait(self.interval)

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(self.timeout + 5)

    def between(self, t0, t1, kind=None):
        """Requests sent within [t0, t1]."""
        return [(k, r) for t, k, r in self.outcomes if t0 <= t <= t1 and (kind is None or k == kind)]

    def within(self, t0, t1):
        """Requests sent and answered (or given up) within [t0, t1]."""
        return [(k, r) for t, k, r in self.outcomes if t0 <= t and t + r.elapsed <= t1]

    def overlapping(self, t0, t1):
        """Requests in flight at some time within [t0, t1] (sent before t1, answered or given up after t0)."""
        return [(k, r) for t, k, r in self.outcomes if t <= t1 and t + r.elapsed >= t0]


def summarize(outcomes):
    out = {}
    for kind, r in outcomes:
        key = str(r.status) if r.status else (r.error or "none")
        out.setdefault(kind, {}).setdefault(key, 0)
        out[kind][key] += 1
    return out


def run(ctx):
    log_part("FAULTS")
    res = ctx.results
    app = ctx.app
    rate = ctx.rate
    primary = ctx.upstreams["primary"]
    body = harness.chat_body(tenant="fault")

    # -- 1. a dead endpoint must fail fast (no load, so no open circuit hides it)
    log("primary upstream killed: how long do a model list, a named call and an unknown model take?")
    primary.kill()
    time.sleep(0.2)
    for name, method, path, payload, expect in (
        ("GET /v1/models", "GET", "/v1/models", None, {200}),
        ("a call naming the dead provider (no fallback)", "POST", "/v1/chat/completions",
         json.dumps({"model": "primary/fake-a", "messages": [{"role": "user", "content": "hi"}]}).encode(), {502, 503, 504}),
        ("an unknown bare model", "POST", "/v1/chat/completions",
         json.dumps({"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}).encode(), {404}),
    ):
        r = httpraw.once(app.port, method, path, body=payload, timeout=30)
        res.check(PART, f"dead endpoint: {name} answers within 1.5 s", r.status in expect and r.elapsed < 1.5,
                  f"{r.status} in {r.elapsed:.2f} s (expected {sorted(expect)})",
                  repro=f"# with the primary upstream down:\n{ctx.curl(method, path, payload)}")
    primary.start()
    closed = wait_until(lambda: primary_up(app), 30, 0.5)
    res.check(PART, "the primary's circuit closes again once it is back", bool(closed), "via GET /api/providers")

    # -- 2. primary killed mid-load: every request has a fallback (secondary), so every request succeeds
    dur = 12 if ctx.quick else 30
    log(f"primary killed mid-load: {rate}/s for {dur} s, kill at {dur // 3} s, restart at {2 * dur // 3} s")
    thread, holder = harness.start_wrk(app.port, dur, max(16, min(128, rate // 4)), rate=rate, body=body, timeout="15s")
    time.sleep(dur / 3)
    primary.kill()
    kill_at = time.monotonic()
    time.sleep(dur / 3)
    primary.start()
    thread.join(dur + 90)
    w = holder.get("result", {})
    c, e = w.get("counts", {}), w.get("errors", {})
    total, ok = w.get("requests", 0), c.get("s200", 0)
    sock = sum(e.get(k, 0) for k in ("connect", "read", "write", "timeout"))
    lat = w.get("latency_us", {})
    res.figure(PART, "primary_kill", {"requests": total, "ok": ok, "by_secondary": c.get("answered_by_secondary", 0),
                                      "after_fallback": c.get("answered_after_fallback", 0), "socket_errors": e,
                                      "p99_ms": round(lat.get("p99", 0) / 1000, 1), "max_ms": round(lat.get("max", 0) / 1000, 1)})
    res.check(PART, "primary killed mid-load: every request (each had a fallback) succeeded",
              total > 0 and ok == total and sock == 0,
              f"{ok}/{total} × 200, {c.get('answered_by_secondary', 0)} answered by the secondary, "
              f"{c.get('answered_after_fallback', 0)} after a failed attempt, statuses "
              f"{sorted((k, v) for k, v in c.items() if k.startswith('s'))}, socket errors {e}, "
              f"p99 {lat.get('p99', 0) / 1000:.0f} ms, max {lat.get('max', 0) / 1000:.0f} ms")
    res.check(PART, "primary killed mid-load: the secondary took over", c.get("answered_by_secondary", 0) > 0,
              f"{c.get('answered_by_secondary', 0)} answers from the secondary")
    routes = []

    def back_to_primary():
        routes.append(route_of(app))
        return routes[-1] == "primary"
    t0 = time.monotonic()
    back = wait_until(back_to_primary, 30 if ctx.quick else 90, 0.5)
    took = time.monotonic() - t0
    res.figure(PART, "primary_back_after_s", round(took, 1) if back else None)
    res.check(PART, "primary back: routed requests return to it within 30 s (cooldown 5 s, probes every 2 s)",
              bool(back) and took <= 30,
              (f"after {took:.1f} s" if back else f"not within {took:.0f} s") +
              f"; routes seen: {sorted(set(map(str, routes)))}, {len(routes)} tries; primary {primary_state(app)}")

    # -- the corpus and a reference ingest (uninterrupted) to compare interrupted ones with
    files = 150 if ctx.quick else 400
    corpus = make_corpus(os.path.join(ctx.work, "corpus"), files)
    t0 = time.monotonic()
    rc, out = app.command(["ingest", corpus, "--tenant", "reference", "--json"], timeout=600, log_name="ingest-reference.log")
    ingest_s = time.monotonic() - t0
    reference = fingerprint(ctx, "reference")
    res.figure(PART, "reference_ingest", {"files": files, "seconds": round(ingest_s, 1), "exit": rc,
                                          "chunks": sum(int(v[1]) for v in reference.values())})
    res.check(PART, "reference ingest completes", rc == 0 and len(reference) == files,
              f"exit {rc}, {len(reference)}/{files} documents in {ingest_s:.1f} s")

    # -- 3. PostgreSQL stopped and started mid-load and mid-ingest
    outage = 10 if ctx.quick else 20
    log(f"PostgreSQL stopped for {outage} s mid-load and mid-ingest")
    prober = Prober(app.port, {
        "ask": ("POST", "/api/rag/ask", json.dumps({"question": "What is the RPO for tier 0?", "tenant": "docs"}).encode()),
        "ready": ("GET", "/ready", None),
        "usage": ("GET", "/api/usage", None),
        "chat": ("POST", "/v1/chat/completions", body.encode()),
        "embeddings": ("POST", "/v1/embeddings", json.dumps({"model": "local", "input": "hello"}).encode()),
    })
    wdur = outage + (12 if ctx.quick else 20)
    thread, holder = harness.start_wrk(app.port, wdur, max(16, min(128, rate // 4)), rate=rate, body=body, timeout="15s")
    prober.start()
    ingest = app.start_command(["ingest", corpus, "--tenant", "pgfault", "--json"], log_name="ingest-pgfault.log")
    wait_until(lambda: doc_count(ctx, "pgfault") >= max(1, files // 10), 60, 0.1)
    before_stop = doc_count(ctx, "pgfault")
    stopped_at = time.monotonic()
    ctx.pg.stop(mode="fast")
    stop_took = time.monotonic() - stopped_at
    time.sleep(outage)
    started_at = time.monotonic()
    ctx.pg.start()
    ready_again = wait_until(lambda: httpraw.once(app.port, "GET", "/ready", timeout=5).status == 200, 60, 0.25)
    ready_after = time.monotonic() - started_at
    ask_ok = wait_until(lambda: httpraw.once(app.port, "POST", "/api/rag/ask", body=json.dumps(
        {"question": "What is the RPO for tier 0?", "tenant": "docs"}).encode(), timeout=15).status == 200, 30, 0.5)
    time.sleep(2)
    prober.stop()
    thread.join(wdur + 90)
    grace = 30 if ctx.quick else 60
    try:
        ingest_rc = ingest.wait(max(1, grace - (time.monotonic() - started_at)))
    except Exception:
        harness.kill(ingest)
        ingest.wait(5)
        ingest_rc = f"killed: still running {grace} s after PostgreSQL came back"
    # every probe sent from the stop to the restart; the strict 503 checks only where PostgreSQL was surely down
    during = prober.overlapping(stopped_at, started_at)
    down = prober.within(stopped_at + stop_took + 0.5, started_at)
    summary = summarize(during)
    res.figure(PART, "pg_outage", {"seconds": outage, "during": summary, "ready_again_s": round(ready_after, 1),
                                   "stop_took_s": round(stop_took, 1),
                                   "slowest_s": round(max((r.elapsed for _, r in during), default=0), 1),
                                   "ingest_exit": ingest_rc, "docs_before_stop": before_stop})
    bad = [(k, r) for k, r in during if r.status is None or r.status == 500 or r.elapsed > 10]
    res.check(PART, f"PostgreSQL down {outage} s: no 500, no hang (every probe answered within 10 s)", not bad,
              f"outcomes while down: {summary}" + (f"; e.g. {bad[0][0]}: {bad[0][1]}" if bad else ""),
              repro="# stop PostgreSQL under a running server, then:\n"
                    + ctx.curl("POST", "/api/rag/ask", json.dumps({"question": "What is the RPO?"}).encode()))
    asks = [r for k, r in during if k == "ask"]
    asks_down = [r for k, r in down if k == "ask"]
    # a kind with no request sent while PostgreSQL was surely down was hung in one request through the outage
    res.check(PART, f"PostgreSQL down: /api/rag/ask answers 503 storage_unavailable with Retry-After, within {QUICK} s",
              bool(asks_down) and all(r.status == 503 and r.header("retry-after") for r in asks_down)
              and all(r.elapsed < QUICK for r in asks),
              f"{len(asks)} asks: {summary.get('ask')}, slowest {max((r.elapsed for r in asks), default=0):.1f} s, "
              f"codes {sorted({error_code(r) for r in asks if r.status}, key=str)}, "
              f"Retry-After {sorted({r.header('retry-after') for r in asks if r.status}, key=str)}")
    readies = [r for k, r in down if k == "ready"]
    res.check(PART, f"PostgreSQL down: /ready says 503 not_ready (within {QUICK} s)",
              bool(readies) and all(r.status == 503 and r.elapsed < QUICK for r in readies),
              f"sent and answered while down: {summarize(down).get('ready')}; in flight during the outage: {summary.get('ready')}, "
              f"slowest {max((r.elapsed for k, r in during if k == 'ready'), default=0):.1f} s")
    usage = [r for k, r in down if k == "usage"]
    res.check(PART, f"PostgreSQL down: /api/usage answers 503 (within {QUICK} s)",
              bool(usage) and all(r.status == 503 and r.elapsed < QUICK for r in usage),
              f"sent and answered while down: {summarize(down).get('usage')}; in flight during the outage: {summary.get('usage')}, "
              f"slowest {max((r.elapsed for k, r in during if k == 'usage'), default=0):.1f} s")
    malformed = [(k, r) for k, r in during if r.status and r.status >= 400 and error_body_problem(r)]
    res.check(PART, "PostgreSQL down: error bodies are JSON errors", not malformed,
              malformed and f"{malformed[0][0]}: {error_body_problem(malformed[0][1])}" or "")
    res.check(PART, "PostgreSQL back: /ready 200 without a restart, and /api/rag/ask answers again",
              bool(ready_again) and bool(ask_ok), f"ready after {ready_after:.1f} s, ask ok: {bool(ask_ok)}")
    w = holder.get("result", {})
    c, e = w.get("counts", {}), w.get("errors", {})
    c5 = {k: v for k, v in c.items() if k.startswith("s5") and k != "s503"}
    res.check(PART, "PostgreSQL down: routed chat under load gets no 500 and no hang",
              not c5 and e.get("timeout", 0) == 0 and c.get("refused_without_retry_after", 0) == 0,
              f"{w.get('requests')} requests: {sorted((k, v) for k, v in c.items() if k.startswith('s'))}, socket errors {e}")
    res.check(PART, "PostgreSQL down mid-ingest: the ingest process ends (fails or finishes), never hangs",
              isinstance(ingest_rc, int), f"exit {ingest_rc}; {before_stop} documents stored before the stop")
    problems, figures = consistency(ctx, "pgfault")
    res.check(PART, "PostgreSQL down mid-ingest: no half-ingested document visible", not problems,
              f"{figures}: {', '.join(problems) or 'consistent'}")
    rc, out = app.command(["ingest", corpus, "--tenant", "pgfault", "--json"], timeout=600, log_name="ingest-pgfault-2.log")
    problems, figures = consistency(ctx, "pgfault")
    same = fingerprint(ctx, "pgfault") == reference
    res.check(PART, "PostgreSQL down mid-ingest: the next ingest completes the job", rc == 0 and not problems and same,
              f"exit {rc}, {figures}, {'identical to' if same else 'DIFFERENT from'} the reference ingest"
              + (f", {problems}" if problems else ""))

    # -- 4. the ingest process killed with SIGKILL mid-run
    log("ingest killed with SIGKILL mid-run")
    ingest = app.start_command(["ingest", corpus, "--tenant", "killfault", "--json"], log_name="ingest-killfault.log")
    reached = wait_until(lambda: doc_count(ctx, "killfault") >= max(1, files // 5), 120, 0.05)
    was_running = ingest.poll() is None
    harness.kill(ingest)
    ingest.wait(10)
    stored = doc_count(ctx, "killfault")
    res.check(PART, "SIGKILL mid-ingest: the kill landed mid-run", bool(reached) and was_running and stored < files,
              f"{stored}/{files} documents stored at the kill")
    problems, figures = consistency(ctx, "killfault")
    res.check(PART, "SIGKILL mid-ingest: data consistent afterwards", not problems,
              f"{figures}: {', '.join(problems) or 'consistent'}")
    rc, out = app.command(["ingest", corpus, "--tenant", "killfault", "--json"], timeout=600, log_name="ingest-killfault-2.log")
    problems, figures = consistency(ctx, "killfault")
    same = fingerprint(ctx, "killfault") == reference
    summary_json = last_json(out)
    res.check(PART, "SIGKILL mid-ingest: the next ingest finishes the job", rc == 0 and not problems and same,
              f"exit {rc}, {figures}, {'identical to' if same else 'DIFFERENT from'} the reference; "
              f"summary {({k: summary_json.get(k) for k in ('added', 'updated', 'unchanged', 'removed', 'failed')} if summary_json else out[-200:])}")

    # -- 5. the server killed with SIGKILL mid-load and mid-ingest, then restarted
    log("server killed with SIGKILL mid-load and mid-ingest, then restarted")
    thread, holder = harness.start_wrk(app.port, 12 if ctx.quick else 20, 32, rate=rate, body=body, timeout="10s")
    ingest = app.start_command(["ingest", corpus, "--tenant", "servekill", "--json"], log_name="ingest-servekill.log")
    wait_until(lambda: doc_count(ctx, "servekill") >= 1, 60, 0.05)
    time.sleep(1)
    app.sigkill()
    t0 = time.monotonic()
    try:
        app.start(timeout=60)
        restarted = time.monotonic() - t0
    except RuntimeError as exc:
        restarted = None
        log(f"restart failed: {exc}")
    try:
        ingest_rc = ingest.wait(300)
    except Exception:
        harness.kill(ingest)
        ingest_rc = None
    thread.join(120)
    res.check(PART, "server SIGKILLed mid-load: it restarts and is ready within 30 s",
              restarted is not None and restarted < 30, f"ready after {restarted and round(restarted, 1)} s")
    rc, out = app.command(["ingest", corpus, "--tenant", "servekill", "--json"], timeout=600, log_name="ingest-servekill-2.log")
    problems, figures = consistency(ctx, "servekill")
    same = fingerprint(ctx, "servekill") == reference
    res.check(PART, "server SIGKILLed mid-ingest: data consistent, the next ingest finishes the job",
              rc == 0 and not problems and same and ingest_rc is not None,
              f"ingest during the kill exited {ingest_rc}; next exit {rc}, {figures}, "
              f"{'identical to' if same else 'DIFFERENT from'} the reference" + (f", {problems}" if problems else ""))
    r = httpraw.once(app.port, "POST", "/v1/chat/completions", body=harness.chat_body().encode())
    res.check(PART, "server restarted: routed requests succeed", r.status == 200, f"{r}")


def primary_up(app):
    r = httpraw.once(app.port, "GET", "/api/providers", timeout=5)
    try:
        for p in json.loads(r.body)["providers"]:
            if p["name"] == "primary":
                return all(e.get("circuit") == "closed" for e in p["endpoints"])
    except Exception:
        return False
    return False


def primary_state(app):
    r = httpraw.once(app.port, "GET", "/api/providers", timeout=5)
    try:
        for p in json.loads(r.body)["providers"]:
            if p["name"] == "primary":
                return [{k: e.get(k) for k in ("circuit", "state", "consecutive_failures", "last_probe_ok")}
                        for e in p["endpoints"]]
    except Exception as exc:
        return f"unknown ({exc})"


def route_of(app):
    r = httpraw.once(app.port, "POST", "/v1/chat/completions", body=harness.chat_body().encode(), timeout=10)
    return (r.header("x-unity-route") or "").split("/")[0] if r.status == 200 else None


def last_json(out):
    for line in reversed(out.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    try:
        return json.loads(out)
    except ValueError:
        return None
