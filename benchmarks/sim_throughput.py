"""Simulated events per second and simulated-to-wall time ratio, single process.

    python benchmarks/sim_throughput.py [--protocol primary-backup] [--seeds 20] [--think-us N]
    python benchmarks/sim_throughput.py --kernel

`--kernel` measures the bare kernel: two nodes bouncing one message back and forth, so every
event is a delivery through the network, the heap and the fingerprint, and no protocol work.

Each seed is a full run (5 nodes, 10 clients, the protocol's default nemesis, heal, final
ops). "simulation" times the kernel with nodes, clients and nemesis; "with checks" adds the
history checks (linearizability for Raft). `--think-us` replaces the clients' mean think time
(default: the protocol's workload), e.g. 100000 for a Jepsen-like 100 ops/s: the
simulated-to-wall ratio depends on how busy the clients keep the cluster, events/s much less.
"""
from __future__ import annotations

import argparse
import time

import attrs

from faultlab.campaign.runner import run
from faultlab.campaign.spec import RunSpec
from faultlab.protocols import get_protocol
from faultlab.sim.kernel import Simulator
from faultlab.sim.node import Node


class Bouncer(Node):
    """Sends every message straight back."""

    def start(self) -> None:
        if self.ctx.name == "a":
            self.ctx.send("b", ("ball",))

    def on_message(self, src: str, msg: tuple) -> None:
        self.ctx.send(src, msg)


def kernel_only(sim_seconds: int = 400) -> None:
    sim = Simulator(Bouncer, ("a", "b"), seed=1)
    sim.boot()
    started = time.perf_counter()
    sim.run(until=sim_seconds * 1_000_000)
    wall = time.perf_counter() - started
    print(f"kernel alone        {sim.events:,} events in {wall:.2f} s: "
          f"{sim.events / wall:,.0f} events/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="primary-backup")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--think-us", type=int, default=None)
    parser.add_argument("--kernel", action="store_true", help="measure the bare kernel")
    args = parser.parse_args()
    if args.kernel:
        kernel_only()
        return
    workload = get_protocol(args.protocol).default_workload
    if args.think_us is not None:
        workload = attrs.evolve(workload, think_us=args.think_us)

    run(RunSpec(args.protocol, seed=10_000, workload=workload))  # warm up imports and caches
    events = sim_us = 0
    wall = sim_wall = 0.0
    for seed in range(args.seeds):
        started = time.perf_counter()
        result = run(RunSpec(args.protocol, seed=seed, workload=workload))
        wall += time.perf_counter() - started
        sim_wall += result.sim_wall_s
        events += result.events
        sim_us += result.sim_time_us
    print(f"protocol            {args.protocol} (5 nodes, {workload.clients} clients thinking "
          f"{workload.think_us / 1000:g} ms, swarm nemesis)")
    print(f"runs                {args.seeds}")
    print(f"events              {events:,}")
    print(f"wall time           {sim_wall:.2f} s simulation, {wall:.2f} s with checks")
    print(f"events/s            {events / sim_wall:,.0f} simulation, "
          f"{events / wall:,.0f} with checks")
    print(f"simulated / wall    {sim_us / 1e6 / sim_wall:,.0f}x simulation, "
          f"{sim_us / 1e6 / wall:,.0f}x with checks")


if __name__ == "__main__":
    main()
