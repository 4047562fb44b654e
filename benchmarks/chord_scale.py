"""Chord at scale: a ring of 1,000 nodes under churn, in one process, against the bare
kernel in the same sitting.

    python benchmarks/chord_scale.py [--nodes 1000] [--seconds 3]

A ring of --nodes members (plus 10% spare slots that join) runs its protocol (stabilize and
fix-fingers every 50 ms per node), 50 clients look up, get and put, and the nemesis draws
churn (joins, leaves, failures), crashes, partitions and message faults for --seconds of
simulated time, Zave's properties checked after every step that changed a pointer. Prints
simulated events per second, and that rate as a share of the bare kernel's (two nodes
bouncing one message: `benchmarks/sim_throughput.py --kernel`), measured alternately.
"""
from __future__ import annotations

import argparse
import time

from sim_throughput import kernel_only

from faultlab.campaign.runner import run
from faultlab.campaign.spec import RunSpec
from faultlab.sim.workload import Workload


def chord_ring(nodes: int, seconds: float, seed: int = 1) -> dict:
    spec = RunSpec("chord", seed=seed,
                   config={"nodes": nodes + nodes // 10, "initial": nodes, "m": 32},
                   workload=Workload(clients=50, think_us=20_000, timeout_us=500_000,
                                     keys=64),
                   heal_at_us=int(seconds * 1e6), recovery_us=500_000,
                   final_timeout_us=500_000)
    started = time.perf_counter()
    result = run(spec)
    wall = time.perf_counter() - started
    return {"events": result.events, "sim_wall_s": result.sim_wall_s, "wall_s": wall,
            "events_per_s": result.events / result.sim_wall_s,
            "failed": [v.name for v in result.failed],
            "churn": {k: v for k, v in result.faults_fired.items()
                      if k in ("join", "leave", "fail")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    best_kernel = best_chord = 0.0
    for _ in range(args.rounds):
        kernel = kernel_only(sim_seconds=200)
        chord = chord_ring(args.nodes, args.seconds)
        best_kernel = max(best_kernel, kernel["events_per_s"])
        best_chord = max(best_chord, chord["events_per_s"])
        print(f"kernel {kernel['events_per_s']:,.0f} events/s; chord {args.nodes} nodes: "
              f"{chord['events']:,} events in {chord['sim_wall_s']:.1f} s, "
              f"{chord['events_per_s']:,.0f} events/s, churn {chord['churn']}, "
              f"failed checks: {chord['failed'] or 'none'}", flush=True)
    print(f"\nbest rounds: chord {best_chord:,.0f} events/s = "
          f"{best_chord / best_kernel:.0%} of the bare kernel's {best_kernel:,.0f}")


if __name__ == "__main__":
    main()
