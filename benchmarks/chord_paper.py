"""The Chord paper's lookup results, reproduced on our implementation (Stoica et al.,
SIGCOMM 2001, section 6: path length, and lookups after simultaneous failures).

    python benchmarks/chord_paper.py [--max-log 12] [--png chord.png]

1. Path length: a quiet ideal ring of N = 2^3 ... 2^max-log nodes (fingers as stabilization
   leaves them), clients looking up random points; the mean number of hops per lookup
   (forwards from node to node), with its 1st and 99th percentile, against N; "+ owner"
   counts the owner the answer names too, as the paper's path length counts every node a
   lookup reaches. The paper reports about (1/2) log2 N.
2. Failures: a ring of 2^9 nodes loses a fraction p of them at once, and before
   stabilization can repair anything (it is slowed down for the experiment) clients look up
   random points; the share of lookups that did not return the point's true, live owner,
   for successor lists of length r = 1, 2, 4, 8. The paper finds the share of failed
   lookups close to p: what fails is a lookup whose owner died (its keys are gone with it),
   not the routing, which the successor list keeps going.

Runs are seeded and deterministic. With the `plots` extra (matplotlib), --png draws both.
"""
from __future__ import annotations

import argparse
import bisect
import contextlib
import random
import statistics

from faultlab.campaign.runner import run
from faultlab.campaign.spec import RunSpec
from faultlab.nemesis.faults import Fault
from faultlab.nemesis.schedule import Schedule
from faultlab.protocols.chord.protocol import Chord
from faultlab.protocols.common.ring import ring_id
from faultlab.sim.workload import Workload

M = 32  # identifier bits: no two of 4,096 slot names collide


def _lookups(history, since: int = 0) -> list[tuple[int, object]]:
    """(point, completion) for every lookup invoked at or after `since` that completed."""
    return [(o.invoke.value, o.complete) for o in history.operations()
            if o.f == "lookup" and o.invoke.time >= since and o.complete is not None]


def path_length(n: int, seed: int = 1) -> dict:
    """Hops of lookups in a quiet ring of n nodes."""
    spec = RunSpec("chord", seed=seed, schedule=Schedule([]),
                   config={"nodes": n, "initial": n, "m": M, "stabilize_us": 200_000},
                   workload=Workload(clients=20, think_us=2_000, timeout_us=1_000_000,
                                     mix=(("lookup", 1),)),
                   heal_at_us=400_000, recovery_us=100_000, final_timeout_us=100_000)
    result = run(spec)
    hops = sorted(done.value[1] for _, done in _lookups(result.history)
                  if done.type == "ok" and done.value is not None)
    return {"n": n, "lookups": len(hops), "mean": statistics.fmean(hops),
            "p1": hops[len(hops) // 100], "p99": hops[len(hops) * 99 // 100]}


def after_failures(n: int, p: float, r: int, seed: int = 1) -> dict:
    """Share of lookups that miss the true live owner, soon after a fraction p fail. The
    ring monitor and the operating assumption are off here: failing a fraction of the
    nodes at once breaks Zave's assumption on purpose (a member may lose every successor it
    knows)."""
    rng = random.Random(seed)
    slots = [f"n{i}" for i in range(1, n + 1)]
    dead = rng.sample(slots, int(p * n))
    at = 100_000
    faults = [Fault(at, "fail", 0, (d,)) for d in dead]
    spec = RunSpec("chord", seed=seed, schedule=Schedule(faults),
                   config={"nodes": n, "initial": n, "m": M, "r": r,
                           "stabilize_us": 60_000_000},  # no repair during the experiment
                   workload=Workload(clients=20, think_us=2_000, timeout_us=200_000,
                                     mix=(("lookup", 1),)),
                   heal_at_us=2_000_000, recovery_us=100_000, final_timeout_us=100_000)
    with _unguarded():
        result = run(spec)
    assert result.faults_fired.get("fail") == len(dead), result.faults_fired  # all struck
    live = sorted((ring_id(s, M), s) for s in slots if s not in dead)
    points = [i for i, _ in live]
    failed = total = 0
    for point, done in _lookups(result.history, since=at):
        total += 1
        owner = live[bisect.bisect_left(points, point) % len(live)][1]
        if done.type != "ok" or done.value[0] != owner:
            failed += 1
    return {"p": p, "r": r, "lookups": total, "failed": failed / total if total else 0.0}


@contextlib.contextmanager
def _unguarded():
    """Chord without its ring monitor and without holding failures back."""
    monitor, may_depart = Chord.monitor, Chord.may_depart
    Chord.monitor = lambda self, config: None
    Chord.may_depart = lambda self, sim, node: None
    try:
        yield
    finally:
        Chord.monitor, Chord.may_depart = monitor, may_depart


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-log", type=int, default=12)
    parser.add_argument("--png", default=None, help="draw both figures (matplotlib)")
    args = parser.parse_args()
    print("path length in a quiet ring (the paper: about 1/2 log2 N)")
    print(f"{'N':>6} {'lookups':>8} {'mean hops':>10} {'+ owner':>8} {'1/2 log2 N':>11} "
          f"{'1st pct':>8} {'99th pct':>9}")
    lengths = []
    for k in range(3, args.max_log + 1):
        row = path_length(1 << k)
        lengths.append(row)
        print(f"{row['n']:>6} {row['lookups']:>8} {row['mean']:>10.2f} "
              f"{row['mean'] + 1:>8.2f} {k / 2:>11.1f} {row['p1']:>8} {row['p99']:>9}",
              flush=True)
    print("\nlookups missing the live owner just after a fraction p of 512 nodes fail")
    print(f"{'p':>5} " + " ".join(f"{f'r={r}':>7}" for r in (1, 2, 4, 8)))
    failures = []
    for p in (0.1, 0.2, 0.3, 0.4, 0.5):
        rows = [after_failures(512, p, r) for r in (1, 2, 4, 8)]
        failures.extend(rows)
        print(f"{p:>5.1f} " + " ".join(f"{row['failed']:>7.3f}" for row in rows)
              + f"   ({min(row['lookups'] for row in rows)}+ lookups each)", flush=True)
    if args.png:
        _plot(lengths, failures, args.png)


def _plot(lengths, failures, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    ns = [row["n"] for row in lengths]
    a.errorbar(ns, [row["mean"] for row in lengths],
               yerr=[[row["mean"] - row["p1"] for row in lengths],
                     [row["p99"] - row["mean"] for row in lengths]], fmt="o-",
               label="faultlab Chord")
    a.plot(ns, [0.5 * (n.bit_length() - 1) for n in ns], "--", label="1/2 log2 N")
    a.set_xscale("log", base=2)
    a.set_xlabel("nodes")
    a.set_ylabel("hops per lookup")
    a.legend()
    for r in (1, 2, 4, 8):
        rows = [row for row in failures if row["r"] == r]
        b.plot([row["p"] for row in rows], [row["failed"] for row in rows], "o-",
               label=f"r = {r}")
    b.plot([0.1, 0.5], [0.1, 0.5], "--", label="p")
    b.set_xlabel("fraction of nodes failed")
    b.set_ylabel("fraction of lookups failed")
    b.legend()
    fig.tight_layout()
    fig.savefig(path)
    print(f"figures: {path}")


if __name__ == "__main__":
    main()
