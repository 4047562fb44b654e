"""Two-phase commit: the lock table, each planted bug found by the check named for it (and
the same run clean without it), the correct protocol clean on many seeds in every workload,
blocking measured and not flagged, cooperative termination, AC4 and AC5 on recorded states,
and a replay's account of a transaction."""
from __future__ import annotations

import pytest

from faultlab.campaign.explain import account
from faultlab.campaign.runner import run
from faultlab.campaign.spec import RunSpec
from faultlab.histories import History, Op
from faultlab.histories.record import RunRecord
from faultlab.nemesis.faults import Fault, Trigger
from faultlab.nemesis.schedule import Schedule
from faultlab.protocols.twopc import checks
from faultlab.protocols.twopc.locks import EXCLUSIVE, SHARED, LockTable
from faultlab.protocols.twopc.participant import Work
from faultlab.protocols.twopc.protocol import BUGS, TwoPhaseCommit
from faultlab.sim.node import canonical

AC = ("agreement", "no-reversal", "commit-needs-all-yes", "fault-free-commits",
      "decided-after-heal")


def test_lock_table_shares_reads_and_excludes_writes():
    locks = LockTable()
    assert locks.acquire("x", 1, SHARED) and locks.acquire("x", 2, SHARED)
    assert not locks.acquire("x", 3, EXCLUSIVE)          # readers hold it
    assert not locks.acquire("x", 1, EXCLUSIVE)          # no upgrade while 2 reads
    assert locks.release(2) == [3, 1]                    # waiters, in arrival order
    assert locks.acquire("x", 1, EXCLUSIVE)              # now the only holder: upgraded
    assert locks.held_by(1) == {"x": EXCLUSIVE}
    assert not locks.acquire("x", 3, SHARED)
    assert locks.release(1) == [3] and locks.acquire("x", 3, SHARED)
    locks.acquire("y", 3, EXCLUSIVE)
    assert not locks.acquire("x", 4, EXCLUSIVE)
    assert locks.release(3, shared_only=True) == [4]     # the read lock only
    assert locks.held_by(3) == {"y": EXCLUSIVE}


# ---- planted bugs ---------------------------------------------------------------------------

NAMED = {
    "commit-on-first-yes": "commit-needs-all-yes",
    "commit-on-vote-timeout": "commit-needs-all-yes",
    "prepared-aborts-on-timeout": "no-reversal",
    "decision-sent-before-logged": "agreement",
    "vote-before-prepare-durable": "commit-needs-all-yes",
    "release-read-locks-at-prepare": "strict-serializable",
    "recovery-forgets-prepared": "strict-serializable",
}


def test_every_bug_has_a_test():
    assert set(NAMED) == set(BUGS) == set(TwoPhaseCommit.bugs)


def _first_failure(bug: str, seeds=range(40)):
    for seed in seeds:
        result = run(RunSpec("twopc", seed=seed, bugs=(bug,)))
        if result.failed:
            return seed, result
    raise AssertionError(f"{bug} not found in {len(seeds)} seeds")


@pytest.mark.parametrize("bug", sorted(NAMED))
def test_each_bug_is_found_by_its_check_and_the_same_run_passes_without_it(bug):
    seed, result = _first_failure(bug)
    failed = {v.name for v in result.failed}
    assert NAMED[bug] in failed, (seed, failed)
    if bug == "release-read-locks-at-prepare":  # atomicity holds: only serializability breaks
        assert not failed & set(AC), failed
    clean = run(RunSpec("twopc", seed=seed))
    assert not clean.failed, [v.explanation for v in clean.failed]


@pytest.mark.parametrize("workload", ["list-append", "rw-register", "bank"])
def test_the_correct_protocol_is_clean_under_every_fault(workload):
    fired, stats = set(), {}
    for seed in range(25):
        result = run(RunSpec("twopc", seed=seed, config={"workload": workload}))
        assert not result.failed, (seed, [v.explanation for v in result.failed])
        fired |= set(result.faults_fired)
        for k, v in result.stats.items():
            stats[k] = stats.get(k, 0) + v
    assert stats["committed"] > 1000 and stats["aborted"] > 0
    assert stats["decision-logged"] == stats["committed"]
    # faults struck between steps of the protocol, from every announced event
    for event in ("prepare-logged", "vote-sent", "decision-logged", "decision-sent"):
        assert any(f"(on {event})" in k for k in fired), event


def test_blocking_while_the_coordinator_is_down_is_measured_not_flagged():
    # the coordinator crashes just after a participant votes, for 0.8 s: the participants
    # that voted yes wait in doubt, asking, and finish when it is back
    crash = Fault(200_000, "kill", 800_000, ("role:coordinator",),
                  trigger=Trigger("vote-sent", after_us=500))
    result = run(RunSpec("twopc", seed=1, schedule=Schedule([crash])))
    assert not result.failed, [v.explanation for v in result.failed]
    assert result.stats["blocked (had to ask)"] > 0
    assert result.stats["in doubt 0.1-1 s"] + result.stats.get("in doubt over 1 s", 0) > 0


def test_cooperative_termination_lets_participants_decide_among_themselves():
    isolate = Fault(200_000, "partition", 600_000, ("role:coordinator",),
                    {"mode": "isolate"}, Trigger("vote-sent", after_us=200))
    result = run(RunSpec("twopc", seed=2, schedule=Schedule([isolate]),
                         config={"termination": "cooperative"}))
    assert not result.failed, [v.explanation for v in result.failed]
    assert result.stats.get("in-doubt resolved by another participant", 0) > 0


# ---- the atomic-commitment checks on recorded states ---------------------------------------

def _participant(votes=(), outcomes=(), in_doubt=()):
    txns = {t: Work(t, "c1", ("p1",), (), phase="prepared", voted_at=at)
            for t, at in in_doubt}
    return canonical({"data": {}, "outcomes": dict(outcomes), "votes": dict(votes),
                      "txns": txns, "locks": {}, "waiting": {}, "timers": ()})


def _record(states, ops, faults=()):
    return RunRecord("twopc", {"workload": "list-append", "keys": 2, "balance": 0},
                     History(ops), heal_at=1_000_000, liveness_bound_us=500_000, threads=2,
                     members=tuple(states), states=states, faults=faults)


def _txn_ops(invoked=100, done=200, type="fail"):
    mops = [["append", 0, 1]]
    return [Op(0, "invoke", 0, "txn", mops, time=invoked), Op(1, type, 0, "txn", mops,
                                                              time=done)]


def test_fault_free_all_yes_must_commit():
    aborted = ((1, (("abort", 150, "decided by c1"),)),)
    states = {"c1": canonical({"commits": {}}),
              "p1": _participant(votes={1: "yes"}, outcomes=aborted),
              "p2": _participant(votes={1: "yes"}, outcomes=aborted)}
    v = checks.fault_free_commits(_record(states, _txn_ops()))
    assert v.valid is False and v.ops == (0,)
    assert "T0 aborted though every participant voted yes and no fault struck" in v.explanation
    struck = ({"time": 120, "phase": "start", "index": 0, "text": "loss", "nodes": []},
              {"time": 300, "phase": "end", "index": 0, "text": "loss", "nodes": []})
    assert checks.fault_free_commits(_record(states, _txn_ops(), struck)).valid is True


def test_every_participant_learns_the_outcome_after_the_heal():
    states = {"p1": _participant(votes={1: "yes"}, in_doubt=((1, 150),))}
    v = checks.decided_after_heal(_record(states, _txn_ops(done=2_000_000, type="info")))
    assert v.valid is False and "still in doubt at p1" in v.explanation
    recent = {"p1": _participant(votes={1: "yes"}, in_doubt=((1, 1_800_000),))}
    assert checks.decided_after_heal(_record(recent, _txn_ops(done=2_000_000,
                                                              type="info"))).valid is True


def test_agreement_names_the_transaction_and_each_log():
    states = {"c1": canonical({"commits": {1: (("p1", "p2"), 140)}}),
              "p1": _participant({1: "yes"}, {1: (("commit", 150, "decided by c1"),)}),
              "p2": _participant({1: "yes"}, {1: (("abort", 190, "told by c1"),)})}
    v = checks.agreement(_record(states, _txn_ops(type="ok")))
    assert v.valid is False and v.anomalies["about"] == {"txn": 1}
    assert v.explanation == ("T0 committed at c1, p1 and aborted at p2: c1 logged commit; "
                             "p1 voted yes, commit at 0.000s (decided by c1); p2 voted yes, "
                             "abort at 0.000s (told by c1)")


def test_replay_tells_the_story_of_the_transaction():
    seed, result = _first_failure("decision-sent-before-logged")
    text = "\n".join(account(result))
    verdict = next(v for v in result.failed if v.name == "agreement")
    name = verdict.anomalies["txn"]
    assert f"{name} committed at" in text and "aborted at" in text
    assert f"the events of {name} (txn=" in text
    assert "event  vote-sent at p" in text and "event  decision-sent at c1" in text
    assert "start  #" in text  # the fault that struck, in the same timeline
