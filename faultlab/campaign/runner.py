"""Run one spec: build the cluster, drive clients and nemesis, judge the history."""
from __future__ import annotations

import time as wallclock

import attrs

from faultlab.checkers.liveness import check_liveness
from faultlab.checkers.verdict import Verdict
from faultlab.histories import History
from faultlab.nemesis.generator import generate_schedule
from faultlab.nemesis.inject import FaultRecord, Nemesis
from faultlab.protocols import get_protocol
from faultlab.sim.client import Clients
from faultlab.sim.kernel import Simulator
from faultlab.sim.rng import stream

# Liveness bound: after the heal, some op must succeed within this share of the recovery.
LIVENESS_SHARE = 0.8


@attrs.frozen
class RunResult:
    """What one run produced. `spec` carries the explicit schedule that was run."""

    spec: object
    history: History
    fingerprint: str
    verdicts: tuple[Verdict, ...]
    stats: dict
    fault_log: tuple[FaultRecord, ...]
    faults_fired: dict
    events: int
    sim_time_us: int
    wall_s: float        # the whole run, checks included
    sim_wall_s: float    # simulation only

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.valid is False]

    @property
    def ok(self) -> bool:
        return not self.failed


def prepare(spec):
    """Resolve a spec against its protocol: (protocol, config, bugs, workload, schedule)."""
    spec.validate()
    protocol = get_protocol(spec.protocol)
    config = protocol.resolve_config(spec.config)
    bugs = protocol.check_bugs(spec.bugs)
    workload = spec.workload or protocol.default_workload
    schedule = spec.schedule
    if schedule is None:
        nemesis = spec.nemesis if spec.nemesis is not None else protocol.default_nemesis
        schedule = generate_schedule(nemesis, protocol.node_names(config), protocol.roles,
                                     spec.seed, spec.heal_at_us)
    return protocol, config, bugs, workload, schedule


def run(spec) -> RunResult:
    """Run `spec` to the end and judge it. Same spec, same result, in any process."""
    started = wallclock.perf_counter()
    protocol, config, bugs, workload, schedule = prepare(spec)
    names = protocol.node_names(config)
    sim = Simulator(protocol.node_class, names, seed=spec.seed, config=config, bugs=bugs,
                    network=spec.network)
    sim.invariants.extend(protocol.invariants(config))
    clients = Clients(sim, workload, protocol.generate_op, stream(spec.seed, "workload"),
                      protocol.final_ops(config, workload))
    nemesis = Nemesis(sim, schedule, lambda role: protocol.role_holders(sim, role))

    heal_at = spec.heal_at_us
    final_at = heal_at + spec.recovery_us
    deadline = final_at + spec.final_timeout_us
    sim.boot()
    nemesis.install(heal_at)
    clients.start(workload_end=final_at, final_at=final_at, deadline=deadline)
    sim.run(until=deadline)
    simulated = wallclock.perf_counter()

    history = clients.history()
    verdicts: list[Verdict] = []
    if sim.violation is not None:
        verdicts.append(Verdict(sim.violated_check, False, sim.violation,
                                {"time": sim.time, "violation": sim.violation}))
    else:
        verdicts.extend(protocol.check(history, sim, heal_at))
        verdicts.append(check_liveness(history, heal_at,
                                       int(spec.recovery_us * LIVENESS_SHARE)))
    return RunResult(
        spec=attrs.evolve(spec, schedule=schedule),
        history=history,
        fingerprint=sim.fingerprint(),
        verdicts=tuple(verdicts),
        stats=dict(sorted(sim.stats.items())),
        fault_log=tuple(nemesis.log),
        faults_fired=dict(sorted(nemesis.fired.items())),
        events=sim.events - nemesis.polls,  # the system's events, not the nemesis's polling
        sim_time_us=sim.time,
        wall_s=wallclock.perf_counter() - started,
        sim_wall_s=simulated - started,
    )
