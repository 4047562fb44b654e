"""RDD engine throughput: records processed per second of wall time, word count over 100,000
words, with executor kills and without faults, in one sitting.

    python benchmarks/rdd_throughput.py [--words 100000] [--seeds 3]

Records processed are those the executors' tasks produced (every RDD partition computed,
reruns included), read from the driver's task log; wall time is the whole run's (the
simulator, the user's functions, the checks).
"""
from __future__ import annotations

import argparse

import attrs

from faultlab.campaign.runner import run
from faultlab.campaign.spec import RunSpec
from faultlab.nemesis.generator import NemesisConfig
from faultlab.nemesis.schedule import Schedule


def measure(words: int, seed: int, faults: bool) -> dict:
    spec = RunSpec("rdd", seed=seed, config={"jobs": "word-count", "words": words},
                   nemesis=NemesisConfig(families=("kill",), swarm=False))
    if not faults:
        spec = attrs.evolve(spec, schedule=Schedule(()))
    result = run(spec)
    log = dict(result.record.states["driver"])["log"]
    records = sum(e[-1] for e in log if e[1] == "done")
    jobs = [o for o in result.history.operations() if o.complete is not None]
    return {"records": records, "wall": result.wall_s, "jobs": len(jobs),
            "ok": sum(o.complete.type == "ok" for o in jobs),
            "kills": result.faults_fired.get("kill", 0),
            "reruns": result.stats.get("tasks-rerun", 0),
            "failed": [v.name for v in result.failed if v.name != "liveness"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    print(f"word count over {args.words:,} words, {args.seeds} seeds each")
    print(f"{'faults':>8} {'seed':>5} {'jobs ok':>8} {'kills':>6} {'reruns':>7} "
          f"{'records':>11} {'wall':>7} {'records/s':>11}")
    for faults in (False, True):
        total_r = total_w = 0.0
        for seed in range(args.seeds):
            m = measure(args.words, seed, faults)
            total_r += m["records"]
            total_w += m["wall"]
            print(f"{'kills' if faults else 'none':>8} {seed:>5} {m['ok']:>4}/{m['jobs']:<3} "
                  f"{m['kills']:>6} {m['reruns']:>7} {m['records']:>11,} {m['wall']:>6.2f}s "
                  f"{m['records'] / m['wall']:>11,.0f}"
                  + (f"  FAILED {m['failed']}" if m["failed"] else ""), flush=True)
        print(f"{'':>8} {'all':>5} {'':>8} {'':>6} {'':>7} {int(total_r):>11,} "
              f"{total_w:>6.2f}s {total_r / total_w:>11,.0f}")


if __name__ == "__main__":
    main()
