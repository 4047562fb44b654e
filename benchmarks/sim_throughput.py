"""Simulated events per second and simulated-to-wall time ratio, single process.

    python benchmarks/sim_throughput.py [--protocol primary-backup] [--seeds 20] [--think-us N]
    python benchmarks/sim_throughput.py --kernel
    python benchmarks/sim_throughput.py --versus OLD_CHECKOUT [--rounds 3]

`--kernel` measures the bare kernel: two nodes bouncing one message back and forth, so every
event is a delivery through the network, the heap and the fingerprint, and no protocol work.

Each seed is a full run (5 nodes, 10 clients, the protocol's default nemesis, heal, final
ops). "simulation" times the kernel with nodes, clients and nemesis; "with checks" adds the
history checks (linearizability for Raft). `--think-us` replaces the clients' mean think time
(default: the protocol's workload), e.g. 100000 for a Jepsen-like 100 ops/s: the
simulated-to-wall ratio depends on how busy the clients keep the cluster, events/s much less.

`--versus` compares this checkout with another (e.g. `git worktree add /tmp/old <commit>`)
in one sitting: it runs the kernel and the protocol in each, alternating, `--rounds` times,
and prints the new/old ratios of the best rounds (the machine drifts between hours, not
between adjacent minutes). Event counts are reported twice: every kernel event, and the
system's (the old nemesis's election polls were kernel events but not the system's work).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import attrs

from faultlab.campaign import runner
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


def kernel_only(sim_seconds: int = 400) -> dict:
    sim = Simulator(Bouncer, ("a", "b"), seed=1)
    sim.boot()
    started = time.perf_counter()
    sim.run(until=sim_seconds * 1_000_000)
    wall = time.perf_counter() - started
    return {"events": sim.events, "wall_s": wall, "events_per_s": sim.events / wall}


class _Counting(Simulator):
    """Records every kernel event a run processed (polls included, where there were any)."""

    kernel_events = 0

    def run(self, until: int) -> None:
        before = self.events
        super().run(until)
        _Counting.kernel_events += self.events - before


def protocol_runs(protocol: str, seeds: int, think_us: int | None) -> dict:
    workload = get_protocol(protocol).default_workload
    if think_us is not None:
        workload = attrs.evolve(workload, think_us=think_us)
    runner.Simulator = _Counting
    run(RunSpec(protocol, seed=10_000, workload=workload))  # warm up imports and caches
    _Counting.kernel_events = 0
    events = sim_us = 0
    wall = sim_wall = 0.0
    for seed in range(seeds):
        started = time.perf_counter()
        result = run(RunSpec(protocol, seed=seed, workload=workload))
        wall += time.perf_counter() - started
        sim_wall += result.sim_wall_s
        events += result.events
        sim_us += result.sim_time_us
    return {"protocol": protocol, "runs": seeds, "clients": workload.clients,
            "think_ms": workload.think_us / 1000, "events": events,
            "kernel_events": _Counting.kernel_events, "sim_wall_s": sim_wall, "wall_s": wall,
            "events_per_s": events / sim_wall, "kernel_events_per_s":
            _Counting.kernel_events / sim_wall, "with_checks_per_s": events / wall,
            "sim_over_wall": sim_us / 1e6 / sim_wall}


def versus(old: Path, protocol: str, seeds: int, think_us: int | None, rounds: int) -> None:
    """Alternate the two checkouts and print new/old ratios of their best rounds."""
    best: dict[str, dict] = {}
    for r in range(rounds):
        for label, root in (("old", old), ("new", Path(__file__).resolve().parents[1])):
            for mode in ("--kernel", "--protocol"):
                args = [sys.executable, __file__, "--json", mode]
                if mode == "--protocol":
                    args += [protocol, "--seeds", str(seeds)]
                    if think_us is not None:
                        args += ["--think-us", str(think_us)]
                env = dict(os.environ, PYTHONPATH=str(root))
                out = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
                doc = json.loads(out.stdout)
                key = f"{label} {mode[2:]}"
                if key not in best or doc["events_per_s"] > best[key]["events_per_s"]:
                    best[key] = doc
                print(f"round {r + 1} {key:16} {doc['events_per_s']:>11,.0f} events/s",
                      flush=True)
    k_old, k_new = best["old kernel"], best["new kernel"]
    p_old, p_new = best["old protocol"], best["new protocol"]
    print(f"\nbest of {rounds} rounds, {protocol} over {seeds} seeds:")
    ratio = k_new["events_per_s"] / k_old["events_per_s"]
    print(f"kernel alone      old {k_old['events_per_s']:>11,.0f}  new "
          f"{k_new['events_per_s']:>11,.0f}  ratio {ratio:.3f}")
    for field, name in (("events_per_s", "system events/s"),
                        ("kernel_events_per_s", "kernel events/s"),
                        ("sim_over_wall", "simulated / wall")):
        print(f"{name:17} old {p_old[field]:>11,.0f}  new {p_new[field]:>11,.0f}  ratio "
              f"{p_new[field] / p_old[field]:.3f}")
    print(f"events per run    old {p_old['events'] / seeds:,.0f} system, "
          f"{p_old['kernel_events'] / seeds:,.0f} kernel; new {p_new['events'] / seeds:,.0f} "
          f"system, {p_new['kernel_events'] / seeds:,.0f} kernel")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="primary-backup")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--think-us", type=int, default=None)
    parser.add_argument("--kernel", action="store_true", help="measure the bare kernel")
    parser.add_argument("--versus", type=Path, help="another checkout to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    if args.versus:
        versus(args.versus, args.protocol, args.seeds, args.think_us, args.rounds)
        return
    doc = kernel_only() if args.kernel else protocol_runs(args.protocol, args.seeds,
                                                          args.think_us)
    if args.json:
        print(json.dumps(doc))
    elif args.kernel:
        print(f"kernel alone        {doc['events']:,} events in {doc['wall_s']:.2f} s: "
              f"{doc['events_per_s']:,.0f} events/s")
    else:
        print(f"protocol            {doc['protocol']} (5 nodes, {doc['clients']} clients "
              f"thinking {doc['think_ms']:g} ms, swarm nemesis)")
        print(f"runs                {doc['runs']}")
        print(f"events              {doc['events']:,} ({doc['kernel_events']:,} kernel events)")
        print(f"wall time           {doc['sim_wall_s']:.2f} s simulation, {doc['wall_s']:.2f} s "
              "with checks")
        print(f"events/s            {doc['events_per_s']:,.0f} simulation, "
              f"{doc['with_checks_per_s']:,.0f} with checks")
        print(f"simulated / wall    {doc['sim_over_wall']:,.0f}x simulation")


if __name__ == "__main__":
    main()
