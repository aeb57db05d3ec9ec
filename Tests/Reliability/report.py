"""Turns a run's results into the one-line part summaries and a Markdown section for docs/reliability.md."""
import shlex
import sys


def mib(kib):
    return f"{kib / 1024:.1f} MiB" if kib else "n/a"


def one_line(part, f):
    try:
        if part == "load" and "steady_requests" in f:
            lat = f.get("steady_latency_ms", {})
            oc = f.get("overload_counts", {})
            return (f"{f['steady_requests']} requests at {f['steady_rate_achieved']}/s, {f['steady_failed']} failed, "
                    f"p99 {lat.get('p99')} ms; 10×: {oc.get('200')} × 200, {oc.get('429')} × 429, {oc.get('503')} × 503; "
                    f"RSS steady {mib(f.get('steady_rss_kib'))}, peak {mib(f.get('overload_peak_rss_kib'))}, "
                    f"after {mib(f.get('rss_after_settle_kib'))}")
        if part == "faults" and "primary_kill" in f:
            pk = f["primary_kill"]
            return f"primary killed: {pk['ok']}/{pk['requests']} succeeded ({pk['by_secondary']} by the secondary)"
        if part == "bad-input" and "fuzz" in f:
            n = sum(v["cases"] for v in f["fuzz"].values())
            crashes = sum(v["crashes"] for v in f["fuzz"].values())
            fails = sum(v["failures"] for v in f["fuzz"].values())
            return f"{n} fuzz cases, {fails} failing answers, {crashes} crashes"
        if part == "leaks" and "rss_after_all_kib" in f:
            return (f"VmRSS {mib(f.get('rss_after_first_kib'))} after {f.get('first')} → "
                    f"{mib(f.get('rss_after_all_kib'))} after {f.get('requests')} ({f.get('growth_percent')} %; "
                    f"second half {f.get('late_growth_percent')} %)")
    except (KeyError, TypeError):
        pass
    return ""


def markdown(results, args, durations):
    f = results.figures
    suite = f.get("suite", {})
    import os
    cmd = os.environ.get("RELIABILITY_COMMAND") or ("deploy/reliability.sh" + (" --quick" if args.quick else ""))
    lines = [f"### Run of {suite.get('date', '')}", "",
             f"Command: `{cmd}` ({suite.get('mode')}, {suite.get('seconds')} s; binary `{suite.get('binary')}`; "
             f"steady rate {args.rate}/s; hypothesis seed {args.seed}).", ""]
    passed = sum(1 for c in results.checks if c[2])
    failed = len(results.checks) - passed
    lines += [f"Result: {passed} passed, {failed} failed.", "", "| part | checks | figures |", "| --- | --- | --- |"]
    for part in ["setup", "load", "faults", "bad-input", "leaks"]:
        mine = [c for c in results.checks if c[0] == part]
        if not mine:
            continue
        p = sum(1 for c in mine if c[2])
        lines.append(f"| {part} | {p} passed, {len(mine) - p} failed | {one_line(part, f.get(part, {})) or '—'} |")
    load = f.get("load", {})
    if load.get("steady_latency_ms"):
        lat = load["steady_latency_ms"]
        ol = load.get("overload_latency_ms", {})
        lines += ["", "Load (routed `/v1/chat/completions`, fallback configured, local fake upstreams):", "",
                  "| phase | offered | achieved | requests | p50 | p90 | p99 | max | outcome |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
                  f"| steady | {load.get('steady_rate_target')}/s | {load.get('steady_rate_achieved')}/s | "
                  f"{load.get('steady_requests')} | {lat.get('p50')} ms | {lat.get('p90')} ms | {lat.get('p99')} ms | "
                  f"{lat.get('max')} ms | {load.get('steady_failed')} failed |",
                  f"| 10× | {load.get('overload_rate_target')}/s | {load.get('overload_rate_achieved')}/s | "
                  f"{sum(v for k, v in load.get('overload_counts', {}).items() if k in ('200', '429', '503'))} | "
                  f"{ol.get('p50')} ms | {ol.get('p90')} ms | {ol.get('p99')} ms | {ol.get('max')} ms | "
                  f"{load.get('overload_counts')} |",
                  "", f"Memory (VmRSS): steady {mib(load.get('steady_rss_kib'))}, overload peak "
                      f"{mib(load.get('overload_peak_rss_kib'))}, after settling {mib(load.get('rss_after_settle_kib'))}."]
    lk = f.get("leaks", {})
    if lk.get("rss_after_all_kib"):
        lines += ["", f"Leaks: VmRSS {mib(lk.get('rss_after_first_kib'))} after {lk.get('first')} routed requests, "
                      f"{mib(lk.get('rss_after_all_kib'))} after {lk.get('requests')} ({lk.get('growth_percent')} %; "
                      f"{lk.get('throughput_rps')} requests/s). VmRSS (MiB) after every 10,000: "
                      + ", ".join(str(m) for _, m in lk.get("curve_mib", [])) + "."]
    fz = f.get("bad-input", {}).get("fuzz")
    if fz:
        lines += ["", "Fuzzing (hypothesis; cases, statuses, failing answers, crashes):", "",
                  "| endpoint | cases | statuses | failing | crashes |", "| --- | --- | --- | --- | --- |"]
        for ep, v in fz.items():
            st = ", ".join(f"{k}: {n}" for k, n in sorted(v["statuses"].items()))
            lines.append(f"| `{ep}` | {v['cases']} | {st} | {v['failures']} | {v['crashes']} |")
    fails = [c for c in results.checks if not c[2]]
    if fails:
        lines += ["", "Failures:", ""]
        for part, name, _, detail in fails:
            lines.append(f"- [{part}] {name}: {detail[:400]}")
    return "\n".join(lines) + "\n"
