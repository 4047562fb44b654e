"""The full CAP table for docs/cap.md, in Markdown, and how long `faultlab cap --all` took.

    python benchmarks/cap_report.py [--runs 10] [--jobs 2] [--plot DIR]
    python benchmarks/cap_report.py --summary store/cap/latest/summary.json

Runs every protocol's standard experiments (as `faultlab cap --all` does) and prints one
Markdown row per side, then the classification of each experiment; with --summary it
renders a saved run's rows instead of running.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def markdown(rows: list[dict]) -> str:
    from faultlab.cap.report import side_cells

    out = ["| configuration | experiment | side | ok / fail / unknown | available | "
           "ms p50/p99 cut | recovered | stuck at heal | consistency | class |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    last = None
    for r in rows:
        key = (r["protocol"], r["configuration"], r["experiment"])
        first = key != last
        last = key
        cells = side_cells(r)
        shares = " / ".join(c for c in (cells["ok"], cells["fail"], cells["unknown"]) if c)
        out.append("| " + " | ".join([
            f"{r['protocol']} {r['configuration']}" if first else "",
            r["experiment"] if first else "",
            cells["side"], shares, cells["available"], cells["cut"], cells["recovered"],
            cells["stuck"], r["consistency"]["text"] if first else "",
            (r["classification"] + (" ⚑" if r["flags"] else "")) if first else "",
        ]) + " |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--plot", type=Path, help="also draw the PNGs here")
    parser.add_argument("--summary", type=Path, help="render this saved summary.json")
    args = parser.parse_args()
    if args.summary:
        rows = json.loads(args.summary.read_text())["rows"]
    else:
        from faultlab.cap.experiments import experiments
        from faultlab.cap.report import run_experiments
        from faultlab.protocols import PROTOCOLS

        exps = [e for name in sorted(PROTOCOLS) for e in experiments(name)]
        started = time.perf_counter()
        reports = run_experiments(exps, args.runs, jobs=args.jobs)
        print(f"{len(exps)} experiments × {args.runs} runs in "
              f"{time.perf_counter() - started:.0f} s on {args.jobs} jobs\n")
        rows = [row for rep in reports for row in rep.to_rows()]
        if args.plot:
            from faultlab.cap.plots import draw_all
            draw_all(reports, args.plot)
    print(markdown(rows))
    print()
    seen = set()
    for r in rows:
        key = (r["protocol"], r["configuration"], r["experiment"])
        if key not in seen:
            seen.add(key)
            print(f"- {r['protocol']} {r['configuration']} · {r['experiment']}: "
                  f"**{r['classification']}** — {r['evidence']}"
                  + "".join(f" ⚑ {f}" for f in r["flags"]))


if __name__ == "__main__":
    main()
