"""Linearizability checker figures on the Porcupine corpus.

Prints the total and per-file time over the non-empty etcd logs (cas-register model), the
time for each kv file (partitioned; c01 and c10 also unpartitioned), each key of
kv/c50-bad on its own, model steps taken and peak memory. Parsing is not timed.
Run: .venv/bin/python benchmarks/linearizability.py [--per-file] [--time-limit S] [--jobs N]
"""
from __future__ import annotations

import argparse
import csv
import resource
import time
from pathlib import Path

from faultlab.checkers.linearizability import (
    check_linearizable,
    entries_from_history,
    partitions,
    search,
)
from faultlab.checkers.models import KV, CASRegister
from faultlab.histories.formats import load_history

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "porcupine"


def timed(history, model, **kw):
    start = time.perf_counter()
    verdict = check_linearizable(history, model, **kw)
    return verdict, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-file", action="store_true", help="print every etcd file")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    with open(CORPUS / "expected_verdicts.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["expected_linearizable"] in ("true", "false")]

    etcd = [r for r in rows if r["path"].startswith("jepsen/")]
    model = CASRegister()
    total, steps, wrong, times = 0.0, 0, 0, []
    for r in etcd:
        history = load_history(CORPUS / r["path"])
        verdict, secs = timed(history, model, time_limit=args.time_limit)
        total += secs
        steps += verdict.anomalies["stats"]["steps"]
        wrong += verdict.valid is not (r["expected_linearizable"] == "true")
        times.append((secs, r["path"]))
        if args.per_file:
            print(f"  {r['path']:22} {secs * 1000:8.1f} ms  {verdict.valid}")
    times.sort()
    print(f"etcd: {len(etcd)} logs in {total:.3f} s (median {times[len(times) // 2][0] * 1000:.1f}"
          f" ms, slowest {times[-1][1]} {times[-1][0] * 1000:.0f} ms), {steps:,} model steps, "
          f"{wrong} wrong verdicts")

    for r in (r for r in rows if r["path"].startswith("kv/")):
        history = load_history(CORPUS / r["path"])
        expected = r["expected_linearizable"] == "true"
        variants = [("partitioned", KV(), {"all_partitions": True}),
                    ("partitioned, first failure", KV(), {})]
        if "c50" not in r["path"]:
            variants.append(("unpartitioned", KV(partitioned=False), {}))
        for label, kv, kw in variants:
            if expected and label.endswith("first failure"):
                continue  # same work as checking all keys for a valid history
            verdict, secs = timed(history, kv, time_limit=args.time_limit, jobs=args.jobs,
                                  **kw)
            stats = verdict.anomalies["stats"]
            extra = ""
            if verdict.anomalies.get("failing_partitions"):
                extra = f", failing keys {sorted(verdict.anomalies['failing_partitions'])}"
            if verdict.anomalies.get("undecided_partitions"):
                extra += f", undecided {sorted(verdict.anomalies['undecided_partitions'])}"
            mark = "ok" if verdict.valid is expected else f"verdict {verdict.valid}"
            print(f"{r['path']:16} {label:27} {secs:7.3f} s  {stats['steps']:>10,} steps  "
                  f"{mark}{extra}")
    per_key(CORPUS / "kv" / "c50-bad.txt", args.time_limit)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS of this process): {peak:.0f} MiB")


def per_key(path: Path, time_limit: float) -> None:
    """Each key of a kv history on its own: verdict, how it was decided, time."""
    model = KV()
    print(f"{path.parent.name}/{path.name} per key:")
    for key, part in partitions(entries_from_history(load_history(path)), model):
        res = search(part, model, deadline=time.monotonic() + time_limit, key=key)
        how = "derived-order cycle" if res.failure and "cycle" in res.failure else "search"
        print(f"  key {key}: {len(part):4} ops  {str(res.valid):7}  {res.seconds * 1000:8.1f} ms"
              f"  ({how})")


if __name__ == "__main__":
    main()
