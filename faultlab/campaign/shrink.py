"""Shrink a failing spec to a smaller one that still fails the same check.

Like Hypothesis, shrinking works on the run's inputs, not its trace: remove fault events
(chunks first, then one at a time), then fewer clients and an earlier heal, then shorter
faults, replaying after each step and keeping a change only if the same check still fails.
Named RNG streams keep unrelated draws stable while one input changes, which is what lets
these steps make progress.
"""
from __future__ import annotations

from collections.abc import Callable

import attrs

from faultlab.campaign.runner import RunResult, prepare, run
from faultlab.campaign.spec import RunSpec
from faultlab.errors import FaultlabError
from faultlab.nemesis.schedule import Schedule

MIN_HEAL_US = 100_000


@attrs.frozen
class ShrinkResult:
    original: RunResult
    result: RunResult   # the smallest failing run found
    attempts: int
    # what stopped it early (Ctrl-C, SIGTERM), if anything: `result` is then the best so far
    interrupted: KeyboardInterrupt | None = None

    @property
    def spec(self) -> RunSpec:
        return self.result.spec


def shrink(spec: RunSpec, checks: tuple[str, ...] | None = None, *, max_attempts: int = 400,
           on_attempt: Callable[[int, bool], None] | None = None,
           original: RunResult | None = None) -> ShrinkResult:
    """Shrink `spec`, which must fail one of `checks` (default: whatever it fails now);
    `original` is its run if already made. An interrupt ends the search early and returns
    the smallest failing run found so far."""
    original = original or run(spec)
    failing = sorted(v.name for v in original.failed)
    if not failing:
        raise FaultlabError(f"seed {spec.seed} of {spec.protocol} does not fail; "
                            "nothing to shrink")
    wanted = set(checks) if checks else set(failing)
    if not wanted & set(failing):
        raise FaultlabError(f"seed {spec.seed} of {spec.protocol} does not fail "
                            f"{', '.join(sorted(wanted))} (it fails {', '.join(failing)}); "
                            "nothing to shrink")
    best = original
    attempts = 0

    def attempt(candidate: RunSpec) -> bool:
        nonlocal best, attempts
        if attempts >= max_attempts:
            return False
        attempts += 1
        result = run(candidate)
        ok = any(v.name in wanted for v in result.failed)
        if ok:
            best = result
        if on_attempt is not None:
            on_attempt(attempts, ok)
        return ok

    try:
        _drop_faults(best.spec, attempt, lambda: best.spec)
        _fewer_clients(attempt, lambda: best.spec)
        _earlier_heal(attempt, lambda: best)
        _shorter_faults(attempt, lambda: best.spec)
    except KeyboardInterrupt as stop:
        return ShrinkResult(original, best, attempts, interrupted=stop)
    return ShrinkResult(original, best, attempts)


def _drop_faults(spec: RunSpec, attempt, current) -> None:
    chunk = max(1, len(spec.schedule) // 2)
    while chunk >= 1:
        i = 0
        while i < len(current().schedule):
            faults = current().schedule.faults
            candidate = Schedule(faults[:i] + faults[i + chunk:])
            if not attempt(attrs.evolve(current(), schedule=candidate)):
                i += chunk
        chunk //= 2


def _fewer_clients(attempt, current) -> None:
    workload = prepare(current()).workload
    clients = workload.clients
    while clients > 1:
        clients //= 2
        if not attempt(attrs.evolve(current(),
                                    workload=attrs.evolve(workload, clients=clients))):
            break
        workload = prepare(current()).workload


def _earlier_heal(attempt, current) -> None:
    """Heal soon after the last fault ended in the failing run (faults that wait for an
    election end later than their nominal end): a shorter run and history."""
    result = current()
    spec = result.spec
    last = max((rec.time for rec in result.fault_log if rec.phase != "heal"), default=0)
    if result.sim_time_us < spec.heal_at_us:  # an invariant stopped the run before the heal
        last = max(last, result.sim_time_us)
    heal = max(MIN_HEAL_US, last + 1)
    if heal < spec.heal_at_us:
        attempt(attrs.evolve(spec, heal_at_us=heal))


def _shorter_faults(attempt, current) -> None:
    for i in range(len(current().schedule)):
        while True:
            faults = list(current().schedule.faults)
            fault = faults[i]
            if fault.duration_us < 2_000:
                break
            faults[i] = attrs.evolve(fault, duration_us=fault.duration_us // 2)
            if not attempt(attrs.evolve(current(), schedule=Schedule(faults))):
                break
