"""Simulated events per second and simulated-to-wall time ratio, single process.

    python benchmarks/sim_throughput.py [--protocol primary-backup] [--seeds 20]

Each seed is a full run (5 nodes, 10 clients, the protocol's default nemesis, heal, final
ops). "simulation" times the kernel with nodes, clients and nemesis; "with checks" adds the
history checks (linearizability for Raft).
"""
from __future__ import annotations

import argparse
import time

from faultlab.campaign.runner import run
from faultlab.campaign.spec import RunSpec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="primary-backup")
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()

    run(RunSpec(args.protocol, seed=10_000))  # warm up imports and caches
    events = sim_us = 0
    wall = sim_wall = 0.0
    for seed in range(args.seeds):
        started = time.perf_counter()
        result = run(RunSpec(args.protocol, seed=seed))
        wall += time.perf_counter() - started
        sim_wall += result.sim_wall_s
        events += result.events
        sim_us += result.sim_time_us
    print(f"protocol            {args.protocol} (5 nodes, 10 clients, swarm nemesis)")
    print(f"runs                {args.seeds}")
    print(f"events              {events:,}")
    print(f"wall time           {sim_wall:.2f} s simulation, {wall:.2f} s with checks")
    print(f"events/s            {events / sim_wall:,.0f} simulation, "
          f"{events / wall:,.0f} with checks")
    print(f"simulated / wall    {sim_us / 1e6 / sim_wall:,.0f}x simulation, "
          f"{sim_us / 1e6 / wall:,.0f}x with checks")


if __name__ == "__main__":
    main()
