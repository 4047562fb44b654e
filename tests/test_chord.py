"""Chord: the ring arithmetic, Zave's properties on hand-made snapshots, the corrected
protocol clean under churn, the 2001 protocol and the planted bugs found by the checks named
for them, Zave's operating assumption kept when a failure strikes, a leave's hand-over, and
a gone node coming back to its sender."""
from __future__ import annotations

import pytest

from faultlab.campaign.runner import run
from faultlab.campaign.spec import RunSpec
from faultlab.nemesis.faults import Fault
from faultlab.nemesis.schedule import Schedule
from faultlab.protocols.chord.invariants import Snapshot
from faultlab.protocols.chord.protocol import BUGS, Chord
from faultlab.protocols.common.ring import between, between_right, clockwise, ring_id


def test_ring_intervals_wrap():
    assert between(10, 20, 30) and not between(10, 30, 30) and not between(10, 10, 30)
    assert between(60, 2, 5) and between(60, 61, 5) and not between(60, 30, 5)
    assert between(7, 3, 7) and not between(7, 7, 7)  # a == b: all but a
    assert between_right(10, 30, 30) and between_right(7, 7, 7)
    assert clockwise(60, 2, 6) == 6 and clockwise(2, 60, 6) == 58
    assert ring_id("n1", 16) == ring_id("n1", 16) != ring_id("n2", 16)


# ---- Zave's properties on snapshots ----------------------------------------------------------

IDS = {"a": 10, "b": 20, "c": 30, "d": 40, "e": 50}


def snap(**lists) -> Snapshot:
    """Pointers from keyword lists: a="b c" gives a the successor list [b, c]."""
    return Snapshot({n: (tuple(s.split()), None) for n, s in lists.items()}, IDS, 6, 2)


def test_an_ideal_ring_has_every_property():
    s = snap(a="b c", b="c d", c="d e", d="e a", e="a b")
    assert s.violation(principals=True) is None
    assert s.principals() == ["a", "b", "c", "d", "e"]
    assert s.rings() == [["a", "b", "c", "d", "e"]]


@pytest.mark.parametrize("lists,prop,text", [
    (dict(a="x y", b="c", c="a"), "live-successor", "a's successor list [x y]"),
    (dict(a="b", b="a", c="d", d="c"), "at-most-one-ring", "a -> b -> a and c -> d -> c"),
    (dict(a="c", b="c", c="a"), "ordered-ring", None),       # b is skipped but an appendage
    (dict(a="c", c="b", b="a"), "ordered-ring", "but ring member b lies between them"),
    (dict(a="b c", b="c", c="a", d="a", e="d"), "ordered-appendages",
     "appendage e reaches the ring at a by e -> d -> a"),
    (dict(a="c b", b="c", c="a"), "ordered-successor-lists", "a's successor list [c b]"),
], ids=["live-successor", "two-rings", "appendage-ok", "ring-order", "appendage-order",
        "list-order"])
def test_each_property_names_what_breaks_it(lists, prop, text):
    found = snap(**lists).violation(principals=False)
    if text is None:  # b, an appendage between a and c, is ordered: no violation at all
        assert found is None
        return
    assert found is not None and found[0] == prop and text in found[1], found


def test_principals_are_the_members_no_list_skips():
    s = snap(a="c d", b="c d", c="d e", d="e a", e="a b")  # a skips b
    assert s.principals() == ["a", "c", "d", "e"]
    small = Snapshot({n: p for n, p in s.pointers.items()}, IDS, 6, 4)
    assert small.violation(principals=True)[0] == "principals"  # 4 < r+1 = 5


def test_the_ideal_ring_of_few_members_comes_round_to_each():
    two = Snapshot({"a": (("b", "a"), "b"), "b": (("a", "b"), "a")}, IDS, 6, 3)
    assert two.ideal() is None and two.violation(principals=False) is None
    assert "a's successors are [b], not [b a]" in Snapshot(
        {"a": (("b",), "b"), "b": (("a", "b"), "a")}, IDS, 6, 3).ideal()


# ---- runs ------------------------------------------------------------------------------------

def test_the_corrected_protocol_survives_churn_and_every_fault():
    fired, stats = set(), {}
    for seed in range(40):
        result = run(RunSpec("chord", seed=seed))
        assert not result.failed, (seed, [v.explanation for v in result.failed])
        fired |= {k.split(" (")[0] for k in result.faults_fired}
        for k, v in result.stats.items():
            stats[k] = stats.get(k, 0) + v
    assert {"join", "leave", "fail", "kill", "pause", "partition-isolate", "loss"} <= fired
    assert stats["joined"] > 20 and stats["lookups answered"] > 1000


def test_the_2001_protocol_breaks_the_ring():
    found = set()
    for seed in range(120):
        result = run(RunSpec("chord", seed=seed, config={"mode": "original"}))
        found |= {v.name for v in result.failed}
    assert {"live-successor", "at-least-one-ring"} <= found, found


NAMED_CHECK = {  # each planted bug and the check that must find it
    "stabilize-no-liveness-check": "ideal-after-heal",
    "join-no-liveness-check": "live-successor",
    "lookup-open-interval": "lookups-correct",
    "successor-list-not-repaired": "ideal-after-heal",
    "no-key-transfer-on-leave": "replicas-after-heal",
    "rectify-no-between-check": "predecessors-advance",
}


@pytest.mark.parametrize("bug", sorted(NAMED_CHECK))
def test_each_bug_is_found_by_its_check_in_a_run_the_correct_protocol_passes(bug):
    for seed in range(100):
        result = run(RunSpec("chord", seed=seed, bugs=(bug,)))
        if NAMED_CHECK[bug] in {v.name for v in result.failed}:
            assert not run(RunSpec("chord", seed=seed)).failed  # the same run, correct
            return
    pytest.fail(f"{bug} not found by {NAMED_CHECK[bug]} in 100 seeds")


def test_the_benign_control_changes_hops_only():
    """finger-off-by-one: no check flags it on 500 seeds, and lookups take other routes."""
    hops = {}
    for bug, seeds in (((), 30), (("finger-off-by-one",), 500)):
        total = answered = 0
        for seed in range(seeds):
            result = run(RunSpec("chord", seed=seed, bugs=bug))
            assert not result.failed, (bug, seed, [v.explanation for v in result.failed])
            if seed < 30:
                total += result.stats.get("lookup hops", 0)
                answered += result.stats.get("lookups answered", 0)
        hops[bug] = total / answered
    assert hops[()] != hops[("finger-off-by-one",)]


def test_every_bug_is_declared():
    assert set(Chord.bugs) == set(BUGS) and len(BUGS) == 7


def test_a_message_to_a_node_gone_for_good_comes_back():
    # n3 fails for good at once: its predecessor learns it from its own stabilize, which
    # comes back gone, and drops it from its successor list
    schedule = Schedule([Fault(100_000, "fail", 0, ("n3",))])
    result = run(RunSpec("chord", seed=1, schedule=schedule, heal_at_us=600_000))
    assert not result.failed, [v.explanation for v in result.failed]
    states = {n: dict(s) for n, s in result.record.states.items() if s is not None}
    assert all("n3" not in s["succ"] for s in states.values())
    assert "n3" not in result.record.members


def test_zave_mode_holds_back_a_failure_that_would_leave_a_member_without_successor():
    # r = 1: each member's list holds only its successor, so no member may fail
    schedule = Schedule([Fault(100_000, "fail", 0, ("n3",))])
    config = {"nodes": 6, "initial": 6, "r": 1}
    zave = run(RunSpec("chord", seed=1, schedule=schedule, config=config,
                       heal_at_us=400_000))
    held = [rec for rec in zave.fault_log if rec.phase == "held"]
    assert len(held) == 1 and "would have no live successor" in held[0].text
    assert "n3" in zave.record.members and zave.ok


def test_a_leaving_node_hands_its_keys_on_so_each_keeps_r_copies():
    """Three members leave one after another, each the next owner of the last one's keys:
    the hand-overs keep every key on r = 3 members; dropping them loses copies."""
    order = sorted((ring_id(f"n{i}", 16), f"n{i}") for i in range(1, 9))
    first = [n for _, n in order[:3]]
    schedule = Schedule([Fault(300_000 + 100_000 * i, "leave", 50_000, (n,))
                         for i, n in enumerate(first)])
    config = {"nodes": 11, "initial": 11}
    for bugs, ok in (((), True), (("no-key-transfer-on-leave",), False)):
        result = run(RunSpec("chord", seed=2, schedule=schedule, config=config,
                             bugs=bugs, heal_at_us=800_000))
        checks = {v.name: v.valid for v in result.verdicts}
        assert checks["replicas-after-heal"] is ok, (bugs, result.failed)


def test_config_errors_name_the_setting():
    from faultlab.campaign.runner import prepare
    from faultlab.errors import FaultlabError
    with pytest.raises(FaultlabError, match="initial .2. must be at least r . 1 .4."):
        prepare(RunSpec("chord", config={"initial": 2}))
    with pytest.raises(FaultlabError, match="m .4. is too small"):
        prepare(RunSpec("chord", config={"m": 4}))
