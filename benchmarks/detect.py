"""Detection table: for each planted bug of a protocol, how soon a campaign finds it.

    python benchmarks/detect.py --protocol raft --runs 300 --jobs 2

Per bug: first failing seed, failing seeds out of --runs, median seeds-to-failure (the gaps
between consecutive failing seeds, counting from seed 0), wall time to the first failure
(seeds run in order on --jobs workers, so this is what a user waits), and the checks that
fired. The correct version runs too, and must show 0 failures.
"""
from __future__ import annotations

import argparse
import statistics
import time

from faultlab.campaign.campaign import run_campaign
from faultlab.campaign.spec import RunSpec
from faultlab.protocols import get_protocol


def detect(protocol: str, bug: str | None, runs: int, jobs: int) -> dict:
    settings = get_protocol(protocol).bug_settings.get(bug, {})  # what the bug needs
    spec = RunSpec(protocol, bugs=(bug,) if bug else (), config=settings)
    started = time.perf_counter()
    first_at: float | None = None

    def on_result(r):
        nonlocal first_at
        if r.failed and first_at is None:
            first_at = time.perf_counter() - started

    result = run_campaign(spec, range(runs), jobs=jobs, on_result=on_result)
    failing = [r.seed for r in result.failures]
    gaps = [b - a for a, b in zip([-1] + failing, failing)]
    return {
        "bug": bug or "(correct)",
        "first": failing[0] if failing else None,
        "failing": len(failing),
        "median_gap": statistics.median(gaps) if gaps else None,
        "first_s": first_at,
        "checks": result.check_failures(),
        "wall_s": result.wall_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="raft")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--bug", action="append", help="only these bugs (repeatable)")
    args = parser.parse_args()
    proto = get_protocol(args.protocol)
    bugs = args.bug or sorted(proto.bugs)
    print(f"{args.protocol}: {args.runs} seeds per row, {args.jobs} jobs")
    header = (f"{'bug':28} {'first seed':>10} {'failing':>9} {'median gap':>10} "
              f"{'to first':>9} {'campaign':>9}  checks")
    print(header)
    print("-" * len(header))
    for bug in [None, *bugs]:
        row = detect(args.protocol, bug, args.runs, args.jobs)
        first = "-" if row["first"] is None else str(row["first"])
        gap = "-" if row["median_gap"] is None else f"{row['median_gap']:g}"
        to_first = "-" if row["first_s"] is None else f"{row['first_s']:.1f}s"
        checks = ", ".join(f"{k}×{v}" for k, v in row["checks"].items()) or "-"
        print(f"{row['bug']:28} {first:>10} {row['failing']:>5}/{args.runs:<3} {gap:>10} "
              f"{to_first:>9} {row['wall_s']:>8.1f}s  {checks}", flush=True)


if __name__ == "__main__":
    main()
