"""Membership, node kinds and exempt nodes, shown on the tiny `roster` protocol: joined nodes
serve, departed nodes stay gone, the heal restarts crashed members only, the generator keeps
the churn limits, and the nemesis never touches an exempt node."""
from __future__ import annotations

import pytest
from roster import STORE, Member, Roster, Storage

from faultlab.campaign.runner import prepare, run
from faultlab.campaign.spec import RunSpec
from faultlab.errors import FaultlabError
from faultlab.nemesis.faults import Fault
from faultlab.nemesis.generator import NemesisConfig, generate_schedule
from faultlab.nemesis.kinds import partition_links
from faultlab.nemesis.schedule import Schedule
from faultlab.protocols import PROTOCOLS


@pytest.fixture(autouse=True)
def roster(monkeypatch):
    monkeypatch.setitem(PROTOCOLS, "roster", Roster)


def _run(*faults, heal_at=600_000, seed=1, **config):
    return run(RunSpec("roster", seed=seed, schedule=Schedule(faults), heal_at_us=heal_at,
                       config=config, recovery_us=300_000, final_timeout_us=100_000))


def _oks_by_node(result, after=0):
    return {op.node for op in result.history if op.type == "ok" and op.time >= after}


def test_spares_do_not_run_until_they_join():
    r = _run()
    assert r.record.members == ("n1", "n2", "n3", STORE)
    assert r.record.states["n4"] is None and r.record.states["n5"] is None
    assert _oks_by_node(r) == {"n1", "n2", "n3"}  # clients never reach spares nor the store


def test_a_joined_node_receives_messages_and_client_ops():
    r = _run(Fault(100_000, "join", 50_000, ("n4",)))
    assert r.record.members == ("n1", "n2", "n3", "n4", STORE)
    state = r.record.states["n4"]
    assert state[0] == "member" and state[2] == "n3"  # joined through the protocol's contact
    contact = r.record.states["n3"]
    assert ("hello", ("n4",)) in contact[1]            # its greeting arrived
    assert "n4" in _oks_by_node(r, after=100_000)      # and it served clients
    assert r.stats["joined"] == 1 and r.ok


def test_left_and_failed_nodes_never_restart_not_even_at_the_heal():
    r = _run(Fault(50_000, "kill", 2_000_000, ("n2",)),     # down past the heal
             Fault(100_000, "fail", 0, ("n2",)),
             Fault(110_000, "join", 50_000, ("n4",)),
             Fault(120_000, "leave", 40_000, ("n3",)),     # (2 members stay: the minimum)
             Fault(210_000, "kill", 2_000_000, ("n4",)))    # a crashed member
    rec = r.record
    assert rec.members == ("n1", "n4", STORE)
    assert rec.states["n2"] is None and rec.states["n3"] is None
    assert rec.states["n4"] is not None                 # the heal restarted the member
    bye = dict(rec.states["n1"][1]).get("bye", ())
    assert "n3" in bye                                   # n3 handed over as it left
    late = {op.node for op in r.history if op.type == "invoke" and op.time > 200_000}
    assert not late & {"n2", "n3"}                       # clients left them alone


def test_membership_faults_need_a_protocol_that_allows_them():
    with pytest.raises(FaultlabError, match="does not allow membership"):
        prepare(RunSpec("raft", schedule=Schedule([Fault(1, "join", 1, ("n1",))])))
    with pytest.raises(FaultlabError, match="exempt"):
        prepare(RunSpec("roster", schedule=Schedule([Fault(1, "kill", 1, (STORE,))])))
    with pytest.raises(FaultlabError, match="not a node"):
        prepare(RunSpec("roster", schedule=Schedule([Fault(1, "kill", 1, ("n9",))])))
    with pytest.raises(FaultlabError, match="must not exceed 'nodes'"):
        prepare(RunSpec("roster", config={"nodes": 3, "initial": 4}))


def test_node_kinds_run_their_own_classes():
    cluster = prepare(RunSpec("roster")).cluster
    assert cluster.classes[STORE] is Storage and cluster.classes["n1"] is Member
    assert cluster.exempt == {STORE}


def test_generated_churn_keeps_the_protocols_limits():
    """1,000 seeds of churn: never fewer than 2 members, n1 (the protocol's precondition)
    never removed, only spares join, nothing struck once it is gone, never the store."""
    target = prepare(RunSpec("roster")).target
    config = NemesisConfig(families=("churn", "kill", "partition-isolate"), swarm=False,
                           interval_us=100_000)
    kinds = set()
    for seed in range(1000):
        members, spares, gone = {"n1", "n2", "n3"}, {"n4", "n5"}, set()
        for f in generate_schedule(config, target, seed, 3_000_000).faults:
            kinds.add(f.kind)
            assert STORE not in f.targets and not set(f.targets) & gone
            if f.kind == "join":
                assert set(f.targets) <= spares
                spares -= set(f.targets)
                members |= set(f.targets)
            elif f.kind in ("leave", "fail"):
                assert "n1" not in f.targets and set(f.targets) <= members
                members -= set(f.targets)
                gone |= set(f.targets)
                assert len(members) >= 2
    assert {"join", "leave", "fail", "kill", "partition"} <= kinds


def test_a_departure_below_the_minimum_is_held_back_when_it_strikes():
    """A hand-written (or shrunk) schedule gets the churn limits too: roster keeps at least
    2 members, so after a failure the leave that would leave one is held back, and the
    log says why."""
    r = _run(Fault(100_000, "fail", 0, ("n2",)), Fault(150_000, "leave", 40_000, ("n3",)))
    assert r.record.members == ("n1", "n3", STORE)
    held = [rec for rec in r.fault_log if rec.phase == "held"]
    assert [rec.nodes for rec in held] == [("n3",)]
    assert "fewer than the protocol's minimum (2)" in held[0].text
    assert r.faults_fired["leave (held back)"] == 1


def test_replace_fails_a_member_and_a_spare_joins_soon_after():
    target = prepare(RunSpec("roster")).target
    config = NemesisConfig(families=("replace",), swarm=False, interval_us=300_000)
    pairs = 0
    for seed in range(200):
        faults = generate_schedule(config, target, seed, 3_000_000).faults
        fails = [f for f in faults if f.kind == "fail"]
        joins = [f for f in faults if f.kind == "join"]
        assert len(fails) == len(joins) and {f.kind for f in faults} <= {"fail", "join"}
        for fail, join in zip(fails, joins):
            assert 0 <= join.time - fail.time <= 100_000 and "n1" not in fail.targets
            pairs += 1
    assert pairs > 100


def test_generated_schedules_never_touch_an_exempt_node():
    target = prepare(RunSpec("roster")).target
    for seed in range(1000):
        for f in generate_schedule(Roster.default_nemesis, target, seed, 3_000_000).faults:
            assert STORE not in f.targets
            if f.kind == "partition":  # not even as the far side of a cut
                names = ("n1", "n2", "n3", "n4", "n5")
                assert not any(STORE in link
                               for link in partition_links(f.params["mode"], f.targets, names))


def test_an_exempt_node_is_never_faulted_in_a_run():
    """Under every general family (loss, duplication and partitions included), every ping a
    member sends the store arrives exactly once; the store never crashes or pauses."""
    for seed in range(12):
        r = run(RunSpec("roster", seed=seed, heal_at_us=1_000_000))
        assert r.ok, [v.explanation for v in r.failed]
        assert all(STORE not in rec.nodes for rec in r.fault_log)
        sent, received = r.stats["pings-sent"], r.stats.get("pings-received", 0)
        assert sent - 5 <= received <= sent  # only the last pings may still be in flight
        assert r.record.states[STORE][1] == received  # one boot: it never lost its count
