#!/usr/bin/env python3
"""Judge one `make bench` run: rdsguard's findings.json against the generator's truth, the
simulator's call counts against the minimal audit, /usr/bin/time's figures against the targets.

Prints one line per check, then (last) the `bench audit:` line. Exit 1 when the verdicts do not
match (correctness); a missed performance target exits 0 unless BENCH_STRICT=1.
"""

import collections
import json
import os
import sys

TARGET_WALL_S = 60.0
TARGET_CALL_RATIO = 1.10
TARGET_RSS_MB = 1024.0


def time_v(path):
    """Fields of `/usr/bin/time -v`."""
    out = {}
    with open(path) as f:
        for line in f:
            if ":" in line:
                key, _, value = line.strip().rpartition(": ")
                out[key.strip()] = value.strip()
    return out


def wall_seconds(text):
    parts = [float(p) for p in text.split(":")]
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


def main():
    expected_path, findings_path, counts_path, time_path, rc = sys.argv[1:6]
    expected = json.load(open(expected_path))
    counts = json.load(open(counts_path))
    tv = time_v(time_path)
    wall = wall_seconds(tv["Elapsed (wall clock) time (h:mm:ss or m:ss)"])
    rss_mb = int(tv["Maximum resident set size (kbytes)"]) / 1024.0
    cpu_s = float(tv["User time (seconds)"]) + float(tv["System time (seconds)"])
    params = expected["params"]
    accounts, regions, sources = params["accounts"], len(params["regions"]), params["sources"]
    calls = counts["total"]
    min_calls = expected["min_calls"]

    ok = True
    if not os.path.exists(findings_path):
        print(f"bench check: FAIL rdsguard wrote no findings.json (exit {rc})")
        findings = {"summary": {}, "errors": []}
        ok = False
    else:
        findings = json.load(open(findings_path))
    got = findings.get("summary", {})
    want = expected["summary"]
    keys = ["sources", "compliant", "non_compliant", "error", "exempt", "ungoverned"]
    match = all(got.get(k) == want.get(k) for k in keys)
    fmt = lambda s: " ".join(f"{k}={s.get(k)}" for k in keys)
    print(f"bench verdicts: {'MATCH' if match else 'MISMATCH'} rdsguard {fmt(got)} | generator {fmt(want)}")
    ok &= match
    # Per source, when the run folder has the simulator's expected-sources.tsv: equal totals could
    # hide two opposite mistakes.
    per_source = os.path.join(os.path.dirname(expected_path), "expected-sources.tsv")
    if os.path.exists(per_source) and findings.get("sources") is not None:
        names = {"Compliant": "COMPLIANT", "NonCompliant": "NON_COMPLIANT", "Error": "ERROR",
                 "Exempt": "EXEMPT", "Ungoverned": "UNGOVERNED"}
        wanted = {}
        with open(per_source) as f:
            for line in f:
                arn, _, status = line.rstrip("\n").partition("\t")
                if arn:
                    wanted[arn] = names.get(status, status)
        found = {s["arn"]: s["status"] for s in findings["sources"]}
        wrong = sorted(arn for arn in set(wanted) | set(found) if wanted.get(arn) != found.get(arn))
        print(f"bench verdicts per source: {'MATCH' if not wrong else 'MISMATCH'} "
              f"{len(wanted) - len(wrong)}/{len(wanted)} as expected"
              + "".join(f"\n  {arn}: rdsguard {found.get(arn)} generator {wanted.get(arn)}"
                        for arn in wrong[:20]))
        ok &= not wrong

    errors = collections.Counter((e.get("operation"), e.get("code")) for e in findings.get("errors", []))
    throttling = sum(n for (op, code), n in errors.items() if code and "Throttl" in code)
    expected_errors = {("GetKeyPolicy", "AccessDeniedException")}
    other = {f"{op}/{code}": n for (op, code), n in errors.items()
             if (op, code) not in expected_errors and not (code and "Throttl" in code)}
    print(f"bench errors: throttling_in_report={throttling} seeded_access_denied="
          f"{errors.get(('GetKeyPolicy', 'AccessDeniedException'), 0)} other={other or 0}")

    by_op = counts.get("by_operation", {})
    print("bench calls: operation rdsguard(throttled) / minimal")
    ops = sorted(set(by_op) | set(expected["min_calls_by_operation"]))
    for op in ops:
        c = by_op.get(op, {})
        print(f"  {op:<38} {c.get('calls', 0):>8} ({c.get('throttled', 0):>6}) / "
              f"{expected['min_calls_by_operation'].get(op, 0):>8}")
    print(f"bench sim: throttled={counts['throttled']} busiest={counts.get('rds_scope_busiest')} "
          f"busiest_calls={counts.get('rds_scope_max_calls')} peak_in_flight={counts.get('peak_in_flight')} "
          f"aws_busy_s={counts.get('busy_s')} throttle_floor_s={expected['throttle_floor_s']:.0f} "
          f"rdsguard_cpu_s={cpu_s:.1f} exit={rc}")

    ratio = calls / min_calls if min_calls else 0.0
    targets = [
        ("wall", wall < TARGET_WALL_S, f"{wall:.1f}s < {TARGET_WALL_S:.0f}s"),
        ("calls", ratio <= TARGET_CALL_RATIO, f"{ratio:.3f}x <= {TARGET_CALL_RATIO}x min_calls"),
        ("memory", rss_mb < TARGET_RSS_MB, f"{rss_mb:.0f} MB < {TARGET_RSS_MB:.0f} MB"),
        ("throttling", throttling == 0, f"{throttling} throttling errors in the report (0 wanted)"),
    ]
    for name, passed, text in targets:
        print(f"bench target {name}: {'met' if passed else 'MISSED'} ({text})")
    perf_ok = all(p for _, p, _ in targets)
    print(f"bench audit: accounts={accounts} regions={regions} sources={sources} wall_s={wall:.1f} "
          f"calls={calls} min_calls={min_calls} peak_rss_mb={rss_mb:.0f}")
    if not ok:
        return 1
    if not perf_ok and os.environ.get("BENCH_STRICT") == "1":
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
