"""LOAD: a fixed rate of routed /v1/chat/completions for a while (0 failures, p99), then ten times that rate (refusals
are 429/503 with Retry-After, never a hang or a 500), then the server's memory back to its steady level."""
import statistics
import threading
import time

import harness
from common import log_part, wait_until
from harness import log

PART = "load"


class RSSSampler:
    def __init__(self, app, interval=0.5):
        self.app = app
        self.samples = []  # (monotonic, rss KiB)
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.interval = interval

    def run(self):
        while not self.stop_flag.is_set():
            r = self.app.rss()
            if r:
                self.samples.append((time.monotonic(), r[0]))
            self.stop_flag.wait(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join(5)

    def between(self, t0, t1):
        return [v for t, v in self.samples if t0 <= t <= t1]


def ms(us):
    return f"{us / 1000:.1f} ms" if us is not None else "n/a"


def run(ctx):
    log_part("LOAD")
    res = ctx.results
    app = ctx.app
    rate = ctx.rate
    steady_s = 15 if ctx.quick else 60
    burst_s = 5 if ctx.quick else 10
    settle_s = 15 if ctx.quick else 30
    body = harness.chat_body(tenant="load")
    # warm-up: connections, JIT-free but caches and pools
    harness.wrk(app.port, 3, 16, rate=rate, body=body)

    with RSSSampler(app) as rss:
        log(f"steady: {rate} requests/s for {steady_s} s")
        t0 = time.monotonic()
        steady = harness.wrk(app.port, steady_s, max(16, min(128, rate // 4)), rate=rate, body=body, timeout="10s")
        t1 = time.monotonic()
        counts = steady.get("counts", {})
        ok = counts.get("s200", 0)
        total = steady.get("requests", 0)
        errors = steady.get("errors", {})
        socket_errors = sum(errors.get(k, 0) for k in ("connect", "read", "write", "timeout"))
        achieved = total / (steady.get("duration_us", 1) / 1e6) if total else 0
        lat = steady.get("latency_us", {})
        failed = total - ok + socket_errors
        res.figure(PART, "steady_rate_target", rate)
        res.figure(PART, "steady_rate_achieved", round(achieved, 1))
        res.figure(PART, "steady_requests", total)
        res.figure(PART, "steady_failed", failed)
        res.figure(PART, "steady_latency_ms", {k: round(v / 1000, 2) for k, v in lat.items()})
        res.check(PART, f"steady {rate}/s for {steady_s} s: 0 failed requests", failed == 0 and total > 0,
                  f"{total} requests, {ok} × 200, statuses {sorted((k, v) for k, v in counts.items() if k.startswith('s'))}, "
                  f"socket errors {errors}, p50 {ms(lat.get('p50'))}, p99 {ms(lat.get('p99'))}, max {ms(lat.get('max'))}"
                  + (f"; wrk: {steady.get('wrk_failed')}" if steady.get("wrk_failed") else ""))
        res.check(PART, "steady: the offered rate was held (≥ 90 % of target)", achieved >= 0.9 * rate,
                  f"{achieved:.1f}/s of {rate}/s")
        steady_samples = rss.between(t1 - min(20, steady_s / 2), t1)
        steady_rss = statistics.median(steady_samples) if steady_samples else None
        res.figure(PART, "steady_rss_kib", steady_rss)

        log(f"overload: {rate * 10} requests/s for {burst_s} s (tenant limit {int(rate * 1.5)}/s)")
        t2 = time.monotonic()
        burst = harness.wrk(app.port, burst_s, max(64, min(1000, rate * 2)), rate=rate * 10, body=body, timeout="5s")
        t3 = time.monotonic()
        bc = burst.get("counts", {})
        be = burst.get("errors", {})
        btotal = burst.get("requests", 0)
        b429, b503, b200 = bc.get("s429", 0), bc.get("s503", 0), bc.get("s200", 0)
        other = {k: v for k, v in bc.items() if k.startswith("s") and k not in ("s200", "s429", "s503")}
        b5xx = sum(v for k, v in bc.items() if k.startswith("s5") and k != "s503")
        bachieved = btotal / (burst.get("duration_us", 1) / 1e6) if btotal else 0
        blat = burst.get("latency_us", {})
        res.figure(PART, "overload_rate_target", rate * 10)
        res.figure(PART, "overload_rate_achieved", round(bachieved, 1))
        res.figure(PART, "overload_counts", {"200": b200, "429": b429, "503": b503, "other": other,
                                             "socket_errors": be})
        res.figure(PART, "overload_latency_ms", {k: round(v / 1000, 2) for k, v in blat.items()})
        res.check(PART, "overload: no 500 (or other 5xx than 503)", b5xx == 0,
                  f"{btotal} requests at {bachieved:.0f}/s: {b200} × 200, {b429} × 429, {b503} × 503, other {other}")
        res.check(PART, "overload: no hang (0 wrk timeouts at 5 s) and no dropped connection",
                  sum(be.get(k, 0) for k in ("connect", "read", "write", "timeout")) == 0,
                  f"socket errors {be}, p99 {ms(blat.get('p99'))}, max {ms(blat.get('max'))}")
        res.check(PART, "overload: every 429/503 carries Retry-After", bc.get("refused_without_retry_after", 0) == 0,
                  f"{bc.get('refused_without_retry_after', 0)} of {b429 + b503} refusals without it")
        # wrk is closed-loop: a server that slows down is offered less than 10x; the achieved rate is reported
        res.check(PART, "overload: requests beyond the tenant's limit were refused (some 429/503)",
                  b429 + b503 > 0,
                  f"{bachieved:.0f}/s achieved of {rate * 10}/s offered, against a limit of {int(rate * 1.5)}/s; "
                  f"{b429 + b503} refused, {b200} served ({b200 / max(1, burst.get('duration_us', 1) / 1e6):.0f}/s)")
        burst_samples = rss.between(t2, t3 + 1)
        peak = max(burst_samples) if burst_samples else None
        res.figure(PART, "overload_peak_rss_kib", peak)

        log(f"settle: up to {settle_s} s for memory to return to the steady level")
        back = None
        if steady_rss:
            limit = steady_rss * 1.10 + 2048

            def settled():
                r = app.rss()
                return r and r[0] <= limit and r[0]
            back = wait_until(settled, settle_s, 1.0)
        after = app.rss()
        res.figure(PART, "rss_after_settle_kib", back or (after[0] if after else None))
        res.check(PART, "memory returns to its steady level (≤ steady + 10 % + 2 MiB) after the overload",
                  back is not None,
                  f"steady {kib(steady_rss)}, overload peak {kib(peak)}, after {kib(back or (after and after[0]))}")
        # and normal service resumes
        r = harness.httpraw.once(app.port, "POST", "/v1/chat/completions", body=harness.chat_body().encode())
        res.check(PART, "service resumes after the overload", r.status == 200, f"{r}")
        res.check(PART, "the process survived", app.alive(), f"pid {app.pid}")


def kib(v):
    return f"{v / 1024:.1f} MiB" if v else "n/a"
