"""The reliability suite's driver (deploy/reliability.sh runs it): sets up PostgreSQL, fake upstreams and the server,
runs the parts, prints one summary line per part and a last line `N passed, N failed`; exits 1 on any failure."""
import argparse
import json
import os
import signal
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import part_badinput  # noqa: E402
import part_faults  # noqa: E402
import part_leaks  # noqa: E402
import part_load  # noqa: E402
import report  # noqa: E402
from common import Context, Results  # noqa: E402
from harness import log  # noqa: E402

PARTS = {"load": part_load, "faults": part_faults, "bad-input": part_badinput, "leaks": part_leaks}


class TimeLimit(BaseException):
    pass


class Interrupted(BaseException):
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--pg-bin", required=True)
    ap.add_argument("--pg-user", default="")
    ap.add_argument("--work", required=True)
    ap.add_argument("--quick", action="store_true", help="about 3 minutes: shorter phases, fewer cases (CI)")
    ap.add_argument("--parts", default=",".join(PARTS), help="comma-separated: " + ", ".join(PARTS))
    ap.add_argument("--rate", type=int, default=0, help="steady request rate (default 200/s, 100/s with --quick)")
    ap.add_argument("--seed", type=int, default=20261129, help="hypothesis seed")
    ap.add_argument("--cases", type=int, default=0, help="fuzz cases per endpoint (default 2000, 300 with --quick)")
    ap.add_argument("--leak-requests", type=int, default=0, help="default 100000 (30000 with --quick); the baseline is after 10000")
    ap.add_argument("--idle-limit", type=int, default=65,
                    help="seconds within which the server must close idle and partial connections (default 65)")
    ap.add_argument("--time-limit", type=int, default=0, help="hard limit for the whole run in seconds")
    args = ap.parse_args()
    args.rate = args.rate or (100 if args.quick else 200)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        ap.error(f"unknown parts {unknown}")

    results = Results()
    ctx = Context(args, results)
    # a safety net only: a healthy release build takes about 3-4 minutes (quick) and 9-11 (full)
    limit = args.time_limit or (600 if args.quick else 1500)

    def on_alarm(*_):
        raise TimeLimit(f"the suite's time limit ({limit} s) passed")

    def on_signal(signum, _):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise Interrupted(f"stopped by signal {signum}")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.alarm(limit)
    started = time.monotonic()
    durations = {}
    try:
        setup(ctx)
        for name in parts:
            t0 = time.monotonic()
            try:
                ctx.app.ensure_running()
                PARTS[name].run(ctx)
            except (TimeLimit, Interrupted):
                raise
            except Exception as exc:
                traceback.print_exc()
                results.check(name, "the part ran to its end", False, f"{type(exc).__name__}: {exc}")
            durations[name] = time.monotonic() - t0
    except TimeLimit as exc:
        results.check("suite", "finished within its time limit", False, str(exc))
    except Interrupted as exc:
        results.check("suite", "ran to its end", False, str(exc))
    except Exception as exc:
        traceback.print_exc()
        results.check("suite", "setup", False, f"{type(exc).__name__}: {exc}")
    finally:
        signal.alarm(0)
        harness.cleanup()

    total = time.monotonic() - started
    results.figure("suite", "seconds", round(total))
    results.figure("suite", "mode", "quick" if args.quick else "full")
    results.figure("suite", "binary", args.binary)
    results.figure("suite", "date", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump(results.to_json(), f, indent=2, default=str)
    with open(os.path.join(args.work, "reliability-report.md"), "w") as f:
        f.write(report.markdown(results, args, durations))

    print()
    print("Summary")
    for name in ["setup"] + parts + (["suite"] if any(c[0] == "suite" for c in results.checks) else []):
        passed, failed = results.part_summary(name)
        extra = report.one_line(name, results.figures.get(name, {}))
        took = f" in {durations[name]:.0f} s" if name in durations else ""
        print(f"  {name.upper():10} {'PASS' if failed == 0 else 'FAIL'}: {passed} passed, {failed} failed{took}"
              + (f" — {extra}" if extra else ""))
    failures = [c for c in results.checks if not c[2]]
    if failures:
        print()
        print("Failures")
        for part, name, _, detail in failures:
            print(f"  [{part}] {name}: {detail[:300]}")
    print()
    print(f"Details: {os.path.join(args.work, 'results.json')}, report: {os.path.join(args.work, 'reliability-report.md')}")
    passed = sum(1 for c in results.checks if c[2])
    print(f"{passed} passed, {len(failures)} failed")
    return 1 if failures or passed == 0 else 0


def setup(ctx):
    args = ctx.args
    log(f"work directory {ctx.work}; binary {args.binary}; {'quick' if args.quick else 'full'} run, rate {ctx.rate}/s")
    ctx.pg = harness.Postgres(args.pg_bin, ctx.work, args.pg_user)
    ctx.pg.init()
    ctx.pg.createdb(ctx.db)
    log(f"PostgreSQL on 127.0.0.1:{ctx.pg.port}")
    for name, mode in (("primary", "ok"), ("secondary", "ok"), ("chaos", "chaos")):
        ctx.upstreams[name] = harness.Upstream(name, ctx.work, mode=mode).start()
    main_ups = {k: ctx.upstreams[k] for k in ("primary", "secondary")}
    limits = {"load": f"{int(ctx.rate * 1.5)}/second"}
    ctx.config = os.path.join(ctx.work, "routing.yaml")
    ctx.chaos_config = os.path.join(ctx.work, "routing-chaos.yaml")
    probe = harness.Appliance(args.binary, ctx.work, ctx.pg.url(ctx.db), config=ctx.config)
    for nested in (False, True):
        harness.routing_file(ctx.config, main_ups, limits, nested=nested)
        # the answer path's upstream fails on purpose: its circuit must not open and hide the next replies
        harness.routing_file(ctx.chaos_config, dict(ctx.upstreams), limits, nested=nested, failure_threshold=100000)
        ok, message = probe.config_check()
        if ok:
            break
        log(f"routing file ({'nested' if nested else 'top-level'} form) refused: {message}")
    else:
        raise RuntimeError(f"the server refuses both forms of the routing file: {message}")
    ctx.results.check("setup", "routing file accepted by `unity-ai config check`", True,
                      "design-document form (nested under routing:)" if nested else "top-level form")
    ctx.app = ctx.new_app()
    ctx.app.start()
    log(f"server pid {ctx.app.pid} on 127.0.0.1:{ctx.app.port}")
    rc, out = ctx.app.command(["ingest", os.path.join(harness.REPO, "ingest"), "--tenant", "docs", "--json"],
                              timeout=300, log_name="ingest-docs.log")
    empty = os.path.join(ctx.work, "empty-docs")
    os.makedirs(empty, exist_ok=True)
    rc2, _ = ctx.app.command(["ingest", empty, "--tenant", "empty", "--json"], timeout=120, log_name="ingest-empty.log")
    ctx.results.check("setup", "the sample documents ingest (tenant docs) and an empty tenant exists",
                      rc == 0 and rc2 == 0, f"exits {rc}, {rc2}")
    if "bad-input" in args.parts:
        part_badinput.start_slowloris(ctx)  # held through the other parts, checked at the end of bad-input


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        harness.cleanup()
        sys.exit(130)
