"""Simulated events per second and simulated-to-wall time ratio, single process.

    python benchmarks/sim_throughput.py [--protocol primary-backup] [--seeds 20]

Each seed is a full run (5 nodes, 10 clients, the default swarm nemesis, heal, final read);
wall time covers the whole run() call: simulation, clients, nemesis and checks.
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
    wall = 0.0
    for seed in range(args.seeds):
        started = time.perf_counter()
        result = run(RunSpec(args.protocol, seed=seed))
        wall += time.perf_counter() - started
        events += result.events
        sim_us += result.sim_time_us
    print(f"protocol            {args.protocol} (5 nodes, 10 clients, swarm nemesis)")
    print(f"runs                {args.seeds}")
    print(f"events              {events:,}")
    print(f"wall time           {wall:.2f} s")
    print(f"events/s            {events / wall:,.0f}")
    print(f"simulated / wall    {sim_us / 1e6 / wall:,.0f}x")


if __name__ == "__main__":
    main()
