"""Dynamo's configurations side by side: what each loses and how stale its reads are.

    python benchmarks/dynamo_modes.py [--runs 200] [--jobs 2]

For each configuration (siblings with dotted version vectors, sloppy and strict; the paper's
plain vector clocks; last-write-wins, sloppy and strict; the register workload), the same
seeds under the default nemesis: runs failing each check, the share of acknowledged adds
lost (over all runs, and over the runs with a partition), and the stale and non-linearizable
read shares; and last-write-wins with every client on one cart, the shape of Jepsen's Riak
test, which measured 30-70% of acknowledged writes lost under partitions.
"""
from __future__ import annotations

import argparse

import attrs

from faultlab.campaign.campaign import run_campaign
from faultlab.campaign.spec import RunSpec
from faultlab.protocols.dynamo.protocol import Dynamo

# (label, config, carts: None for the default workload's)
CONFIGS = (
    ("siblings, dotted, sloppy (default)", {}, None),
    ("siblings, dotted, strict", {"quorum": "strict"}, None),
    ("siblings, paper's vector clocks", {"clocks": "vector"}, None),
    ("last-write-wins, sloppy", {"resolution": "lww"}, None),
    ("last-write-wins, strict", {"resolution": "lww", "quorum": "strict"}, None),
    ("last-write-wins, one shared cart", {"resolution": "lww"}, 1),  # Jepsen's shape
    ("register, sloppy", {"workload": "register"}, None),
    ("register, strict", {"workload": "register", "quorum": "strict"}, None),
)


def measure(config: dict, carts: int | None, runs: int, jobs: int) -> dict:
    workload = Dynamo.default_workload
    if carts is not None:
        workload = attrs.evolve(workload, keys=carts)
    result = run_campaign(RunSpec("dynamo", config=config, workload=workload), range(runs),
                          jobs=jobs)
    lost = acked = lost_p = acked_p = partitioned = 0
    for r in result.results:
        s = r.stats
        lost += s.get("lost-adds", 0)
        acked += s.get("acknowledged-adds", 0)
        if any(kind.startswith("partition") for kind in r.faults_fired):
            partitioned += 1
            lost_p += s.get("lost-adds", 0)
            acked_p += s.get("acknowledged-adds", 0)
    stats = result.totals("stats")
    reads = stats.get("reads-judged", 0)
    return {"failed": result.check_failures(), "runs": runs, "partitioned": partitioned,
            "lost": lost / acked if acked else None,
            "lost_partitioned": lost_p / acked_p if acked_p else None,
            "lossy_runs": sum(1 for r in result.results if r.stats.get("lost-adds")),
            "stale": stats.get("stale-reads", 0) / reads if reads else None,
            "odd": stats.get("reads-not-linearizable", 0) / reads if reads else None,
            "wall_s": result.wall_s}


def _pct(x) -> str:
    return "-" if x is None else f"{x:.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    print(f"dynamo: {args.runs} seeds per configuration, {args.jobs} jobs")
    header = (f"{'configuration':36} {'runs losing adds':>16} {'adds lost':>9} "
              f"{'(partitioned)':>13} {'stale reads':>11} {'not lin.':>8}  failed checks")
    print(header)
    print("-" * len(header))
    for label, config, carts in CONFIGS:
        m = measure(config, carts, args.runs, args.jobs)
        checks = ", ".join(f"{k}×{v}" for k, v in m["failed"].items()) or "-"
        print(f"{label:36} {m['lossy_runs']:>10}/{m['runs']:<5} {_pct(m['lost']):>9} "
              f"{_pct(m['lost_partitioned']):>13} {_pct(m['stale']):>11} {_pct(m['odd']):>8}"
              f"  {checks}", flush=True)


if __name__ == "__main__":
    main()
