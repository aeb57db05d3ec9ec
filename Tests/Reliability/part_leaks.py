"""LEAKS: the server's VmRSS after N routed requests within 10 % of its VmRSS after 10,000 (N = 100,000; 30,000
quick), on a freshly started server, every request with a unique prompt (no cache can absorb them). VmRSS is sampled
after every 10,000 requests too, so that a bounded structure filling up (growth that levels off) can be told from a
leak (growth that goes on)."""
import time

import harness
from common import log_part
from harness import log

PART = "leaks"


def run(ctx):
    log_part("LEAKS")
    res = ctx.results
    total = ctx.args.leak_requests or (30000 if ctx.quick else 100000)
    step = 10000 if total >= 30000 else max(1, total // 10)
    deadline = time.monotonic() + (150 if ctx.quick else 480)
    app = ctx.new_app()
    app.start()
    try:
        body = harness.chat_body(tenant="leak", content="Unique prompt %%N%% for the leak check.")
        threads, conns = 2, 32
        done = ok = 0
        curve = []  # (requests, VmRSS KiB)
        start = time.monotonic()
        # wrk answers a few more than asked (requests in flight when a thread stops): stop within a whisker of total
        while total - done >= 10 * threads and time.monotonic() < deadline and app.alive():
            n = min(step, total - done)
            # wrk stops each thread after n/threads answers; -d bounds the time
            w = harness.wrk(app.port, max(5, int(deadline - time.monotonic())), conns, threads=threads,
                            max_requests=max(1, n // threads), body=body, unique=True, timeout="10s")
            done += w.get("requests", 0)
            ok += w.get("counts", {}).get("s200", 0)
            time.sleep(1)
            rss = app.rss()
            if rss:
                curve.append((done, rss[0]))
                log(f"after {done} requests: VmRSS {rss[0] / 1024:.1f} MiB")
        took = time.monotonic() - start
        rate = done / took if took else 0
        res.figure(PART, "requests", done)
        res.figure(PART, "ok", ok)
        res.figure(PART, "curve_mib", [(n, round(k / 1024, 1)) for n, k in curve])
        res.figure(PART, "throughput_rps", round(rate))
        res.check(PART, f"{total} routed requests ran (all 200)", done >= total * 0.99 and ok == done,
                  f"{done} requests, {ok} × 200 in {took:.0f} s ({rate:.0f}/s)")
        if len(curve) >= 2:
            (n1, r1), (n2, r2) = curve[0], curve[-1]
            growth = (r2 - r1) / r1
            half = [c for c in curve if c[0] >= curve[-1][0] / 2]
            late = (half[-1][1] - half[0][1]) / half[0][1] if len(half) >= 2 else None
            res.figure(PART, "first", n1)
            res.figure(PART, "rss_after_first_kib", r1)
            res.figure(PART, "rss_after_all_kib", r2)
            res.figure(PART, "growth_percent", round(growth * 100, 1))
            res.figure(PART, "late_growth_percent", round(late * 100, 1) if late is not None else None)
            res.check(PART, f"VmRSS after {n2} requests within 10 % of VmRSS after {n1}", growth <= 0.10,
                      f"{r1 / 1024:.1f} MiB → {r2 / 1024:.1f} MiB ({growth * 100:+.1f} %); every {step}: "
                      + ", ".join(f"{k / 1024:.0f}" for _, k in curve) + " MiB"
                      + (f"; second half {late * 100:+.1f} %" if late is not None else ""))
        else:
            res.check(PART, "the leak run measured VmRSS twice", False,
                      "process gone" if not app.alive() else "too few requests within the time limit")
    finally:
        app.stop()
