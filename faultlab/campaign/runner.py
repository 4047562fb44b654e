"""Run one spec: build the cluster, drive clients and nemesis, judge the recorded run."""
from __future__ import annotations

import time as wallclock
import traceback

import attrs

from faultlab.checkers.verdict import Verdict
from faultlab.errors import FaultlabError
from faultlab.histories import History
from faultlab.histories.record import RunRecord
from faultlab.nemesis.faults import ANNOUNCER, NOT, ROLE_PREFIX
from faultlab.nemesis.generator import Target, generate_schedule
from faultlab.nemesis.inject import FaultRecord, Nemesis
from faultlab.nemesis.kinds import KINDS
from faultlab.nemesis.schedule import Schedule
from faultlab.protocols import get_protocol
from faultlab.protocols.base import Cluster, Protocol
from faultlab.sim.client import Clients
from faultlab.sim.kernel import Simulator
from faultlab.sim.node import Node
from faultlab.sim.rng import stream
from faultlab.sim.workload import Workload

# Liveness bound: after the heal, progress is due within this share of the recovery.
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
    record: RunRecord | None = None
    announcements: tuple = ()  # (time, node, event, data) in order

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.valid is False]

    @property
    def ok(self) -> bool:
        return not self.failed


@attrs.frozen
class Prepared:
    """A spec resolved against its protocol: everything a run needs, checked."""

    protocol: Protocol
    config: dict
    bugs: frozenset[str]
    workload: Workload
    cluster: Cluster
    target: Target
    schedule: Schedule


def prepare(spec) -> Prepared:
    """Resolve and check a spec: unknown protocols, bugs, settings and impossible schedules
    are refused here, with one line, before anything runs."""
    spec.validate()
    protocol = get_protocol(spec.protocol)
    config = protocol.resolve_config(spec.config)
    bugs = protocol.check_bugs(spec.bugs)
    workload = spec.workload or protocol.default_workload
    cluster = protocol.cluster(config)
    target = Target(cluster.slots, cluster.members, cluster.exempt, protocol.roles,
                    protocol.announces, protocol.churn)
    schedule = spec.schedule
    if schedule is None:
        nemesis = spec.nemesis if spec.nemesis is not None else protocol.default_nemesis
        schedule = generate_schedule(nemesis, target, spec.seed, spec.heal_at_us)
    else:
        _check_schedule(schedule, protocol, target)
    return Prepared(protocol, config, bugs, workload, cluster, target, schedule)


def _check_schedule(schedule: Schedule, protocol: Protocol, target: Target) -> None:
    """Refuse a given schedule that names what this protocol does not have."""
    for fault in schedule.faults:
        where = f"fault {fault.kind} at {fault.time}"
        if KINDS[fault.kind].membership and target.churn is None:
            raise FaultlabError(f"{where}: protocol {protocol.name!r} does not allow "
                                "membership changes")
        for t in fault.targets:
            t = t.removeprefix(NOT)
            if t.startswith(ROLE_PREFIX):
                if t[len(ROLE_PREFIX):] not in target.roles:
                    raise FaultlabError(f"{where}: protocol {protocol.name!r} has no role "
                                        f"{t[len(ROLE_PREFIX):]!r} (roles: "
                                        f"{', '.join(target.roles) or 'none'})")
            elif t == ANNOUNCER:
                continue
            elif t not in target.slots:
                raise FaultlabError(f"{where}: target {t!r} is not a node "
                                    f"(nodes: {', '.join(target.slots)})")
            elif t in target.exempt and not fault.params.get("cut_exempt"):
                raise FaultlabError(f"{where}: node {t!r} is exempt from faults")


def run(spec) -> RunResult:
    """Run `spec` to the end and judge it. Same spec, same result, in any process."""
    started = wallclock.perf_counter()
    prep = prepare(spec)
    protocol, config, cluster = prep.protocol, prep.config, prep.cluster
    sim = Simulator(cluster.classes, cluster.slots, seed=spec.seed, config=config,
                    bugs=prep.bugs, network=spec.network, members=cluster.members,
                    exempt=cluster.exempt)
    monitor = protocol.monitor(config)
    if monitor is not None:
        sim.invariants.append(monitor)
    rng = stream(spec.seed, "workload")
    clients = Clients(sim, prep.workload, protocol.ops(config, prep.workload, rng), rng)
    nemesis = Nemesis(sim, prep.schedule, lambda role: protocol.role_holders(sim, role),
                      lambda joining: protocol.contact_for(sim, joining),
                      lambda node: protocol.may_depart(sim, node))

    heal_at = spec.heal_at_us
    final_at = heal_at + spec.recovery_us
    deadline = final_at + spec.final_timeout_us
    crash = None
    try:
        sim.boot()
        nemesis.install(heal_at)
        clients.start(workload_end=final_at, final_at=final_at, deadline=deadline)
        sim.run(until=deadline)
    except Exception as e:  # protocol code raised: a finding like any other
        crash = exception_verdict(e, sim.time)
    simulated = wallclock.perf_counter()

    history = clients.history()
    try:
        states = sim.states()
    except Exception as e:  # a node's state() raised
        states = {}
        crash = crash or exception_verdict(e, sim.time)
    record = RunRecord(
        protocol=protocol.name, config=config, history=history, heal_at=heal_at,
        liveness_bound_us=int(spec.recovery_us * LIVENESS_SHARE),
        threads=prep.workload.clients + 1, members=sim.member_list(), states=states,
        faults=tuple(r.to_dict() for r in nemesis.log), stats=dict(sorted(sim.stats.items())),
        announcements=tuple(sim.announcements))
    if crash is not None:
        verdicts = [crash]
    elif sim.violation is not None:
        problem = sim.violation.removeprefix(f"{sim.violated_check}: ")
        verdicts = [Verdict(sim.violated_check, False, problem, time=sim.time)]
    else:
        verdicts = judge(protocol, record)
    for v in verdicts:  # measures (stale reads, lost writes) join the run's statistics
        for stat, n in v.anomalies.get("measured", {}).items():
            record.stats[stat] = record.stats.get(stat, 0) + n
    return RunResult(
        spec=attrs.evolve(spec, schedule=prep.schedule),
        history=history,
        fingerprint=sim.fingerprint(),
        verdicts=tuple(verdicts),
        stats=record.stats,
        fault_log=tuple(nemesis.log),
        faults_fired=dict(sorted(nemesis.fired.items())),
        events=sim.events,
        sim_time_us=sim.time,
        wall_s=wallclock.perf_counter() - started,
        sim_wall_s=simulated - started,
        record=record,
        announcements=tuple(sim.announcements),
    )


def judge(protocol: Protocol, record: RunRecord) -> list[Verdict]:
    """Every history and liveness check of the protocol on a recorded run. A check that
    raises is reported as its own failure, so one broken check never hides the others."""
    verdicts = []
    for check in protocol.all_checks():
        if check.function is None:
            continue
        try:
            verdicts.extend(check.judge(record))
        except Exception as e:
            verdicts.append(Verdict(check.name, False, f"the check raised "
                                    f"{type(e).__name__}: {e}",
                                    {"exception": type(e).__name__},
                                    witness=traceback.format_exc()))
    return verdicts


def exception_verdict(error: Exception, now: int) -> Verdict:
    """A failing `no-exception` verdict naming the exception, the node and where it was
    raised (the innermost frame of protocol code), with the traceback as its witness."""
    frames = traceback.extract_tb(error.__traceback__)
    node = None
    tb = error.__traceback__
    while tb is not None:  # the innermost node method on the stack names the node
        owner = tb.tb_frame.f_locals.get("self")
        if isinstance(owner, Node):
            node = owner
        tb = tb.tb_next
    where = f"{frames[-1].name} ({frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})"
    on = f" on {node.ctx.name} ({type(node).__name__})" if node is not None else ""
    return Verdict("no-exception", False,
                   f"{type(error).__name__} in {where}{on} at t={now / 1e6:.6f}s: {error}",
                   {"exception": type(error).__name__, "message": str(error),
                    "node": node.ctx.name if node is not None else None},
                   witness="".join(traceback.format_exception(error)), time=now)
