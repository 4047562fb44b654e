"""Dynamo: vector clocks and siblings, Merkle trees and preference lists on their own; the
correct store clean on many seeds in both quorum modes; every planted bug found by the check
named for it; last-write-wins and the paper's plain vector clocks flagged for lost adds."""
from __future__ import annotations

import pytest

from faultlab.campaign.campaign import run_campaign
from faultlab.campaign.runner import run
from faultlab.campaign.spec import RunSpec
from faultlab.protocols.common import merkle
from faultlab.protocols.common.vclock import Version, context, merge, prune, reconcile
from faultlab.protocols.dynamo.preference import Ring
from faultlab.protocols.dynamo.protocol import Dynamo


def _write(actor, n, seen=(), value=(), stamp=0, dotted=True):
    """A version written by `actor` as its n-th event over the versions `seen`."""
    clock = context(seen)
    if not dotted:
        clock = merge((clock, ((actor, n, stamp),)))
    return Version((actor, n), clock, frozenset(value), stamp)


@pytest.mark.parametrize("dotted", [True, False])
def test_a_write_supersedes_what_it_read_and_keeps_what_it_did_not(dotted):
    a1 = _write("a", 1, value={1}, dotted=dotted)
    b1 = _write("b", 1, value={2}, dotted=dotted)       # concurrent with a1
    a2 = _write("a", 2, [a1], value={1, 3}, dotted=dotted)  # read a1 only
    assert set(reconcile([a1, b1, a2], dotted)) == {a2, b1}
    c1 = _write("c", 1, [a2, b1], value={1, 2, 3}, dotted=dotted)
    assert reconcile([a1, b1, a2, c1], dotted) == (c1,)


def test_dotted_clocks_keep_concurrent_writes_of_one_coordinator_the_paper_drops_one():
    base = _write("a", 1, value={1})
    # two clients' writes coordinated by `a`, both over `base`: concurrent
    dotted = [_write("a", 2, [base], value={1, 2}), _write("a", 3, [base], value={1, 3})]
    assert len(reconcile([base, *dotted], dotted=True)) == 2
    # the paper's clocks: a:2 and a:3 over {a:1}, the second seems to descend from the first
    plain = [_write("a", 2, [base], value={1, 2}, dotted=False),
             _write("a", 3, [base], value={1, 3}, dotted=False)]
    assert len(reconcile([base, *plain], dotted=False)) == 1
    assert len(reconcile([base, *dotted], True, concurrent_as_descended=True)) == 1


def test_prune_drops_the_entries_that_advanced_longest_ago():
    clock = tuple((f"n{i}", 1, 100 - i) for i in range(12))
    kept = prune(clock, 10)
    assert len(kept) == 10 and {a for a, _, _ in clock} - {a for a, _, _ in kept} == \
        {"n10", "n11"}


def test_merkle_trees_find_the_leaves_that_differ_and_only_those():
    items = {k: ("v", k) for k in range(40)}
    mine = merkle.build(items.items())
    assert merkle.differing_leaves(mine, merkle.build(items.items())) == []
    changed = {**items, 7: ("v", "new"), 23: ("v", "new")}
    differ = merkle.differing_leaves(mine, merkle.build(changed.items()))
    assert sorted(differ) == sorted({merkle.bucket(7), merkle.bucket(23)})
    missing = {k: v for k, v in items.items() if k != 5}
    assert merkle.differing_leaves(mine, merkle.build(missing.items())) == [merkle.bucket(5)]


def test_preference_lists_hold_n_distinct_members_in_a_stable_order():
    ring = Ring([f"n{i}" for i in range(1, 8)], tokens=8)
    for key in range(50):
        walk = ring.walk(key)
        assert sorted(walk) == list(ring.members)
        assert ring.owners(key, 3) == walk[:3] and len(set(walk[:3])) == 3
    assert Ring(reversed(ring.members), 8).walk(3) == ring.walk(3)
    spread = {ring.owners(k, 1)[0] for k in range(200)}
    assert spread == set(ring.members)  # virtual nodes spread the keys over every member


def _failures(spec: RunSpec, seeds) -> list:
    return run_campaign(spec, seeds, jobs=2).failures


@pytest.mark.parametrize("quorum, seeds", [("sloppy", 150), ("strict", 100)])
def test_the_correct_store_is_clean_on_many_seeds(quorum, seeds):
    result = run_campaign(RunSpec("dynamo", config={"quorum": quorum}), range(seeds), jobs=2)
    assert not result.failures, [(r.seed, r.explanations[0]) for r in result.failures]
    stats = result.totals("stats")
    assert stats["acknowledged-adds"] > 1000
    assert stats["handoffs"] > 0 and stats["anti-entropy-repairs"] > 0
    assert stats["read-repairs"] > 0 and stats["reads-with-siblings"] > 0
    fired = result.totals("faults_fired")
    for kind in ("partition-isolate", "kill", "pause", "clock-skew", "loss", "join", "fail"):
        assert fired.get(kind), (kind, fired)
    if quorum == "sloppy":
        assert stats["hinted-writes"] > 0


def test_the_register_workload_is_clean_and_measures_stale_reads():
    result = run_campaign(RunSpec("dynamo", config={"workload": "register"}), range(60),
                          jobs=2)
    assert not result.failures, [(r.seed, r.explanations[0]) for r in result.failures]
    stats = result.totals("stats")
    assert stats["reads-judged"] > 5000
    assert 0 < stats["stale-reads"] <= stats["reads-not-linearizable"] < stats["reads-judged"]


# bug -> (the check that finds it, seeds that include a failing one)
BUGS = {
    "concurrent-as-descended": ("durability", range(3)),
    "hinted-acks-in-strict": ("quorum-reads", range(12)),
    "drop-hint-before-ack": ("durability", range(40)),
    "merkle-keys-only": ("convergence", range(6)),
    "reap-tombstone-immediately": ("deletes-hold", range(4)),
    "read-repair-fresh-clock": ("durability", range(4)),
}


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_each_planted_bug_is_found_by_its_check(bug):
    check, seeds = BUGS[bug]
    config = Dynamo.bug_settings.get(bug, {})  # what `faultlab run --bug` applies
    failures = _failures(RunSpec("dynamo", bugs=(bug,), config=config), seeds)
    assert any(check in r.failed_checks for r in failures), \
        [(r.seed, r.failed_checks) for r in failures]


def test_a_strict_mode_bug_runs_in_strict_mode_unless_told_otherwise():
    from faultlab.cli.options import build_spec

    spec = build_spec("dynamo", ("hinted-acks-in-strict",), (), None, False, 3.0)
    assert spec.config == {"quorum": "strict"}
    spec = build_spec("dynamo", ("hinted-acks-in-strict",), ("quorum=sloppy",), None, False,
                      3.0)
    assert spec.config == {"quorum": "sloppy"}


def test_last_write_wins_loses_acknowledged_adds_but_converges():
    result = run_campaign(RunSpec("dynamo", config={"resolution": "lww"}), range(10), jobs=2)
    lossy = [r for r in result.results if "durability" in r.failed_checks]
    assert len(lossy) >= 5
    assert all("convergence" not in r.failed_checks for r in result.results)
    assert result.totals("stats")["lost-adds"] > 0


def test_the_papers_vector_clocks_lose_concurrent_adds():
    failures = _failures(RunSpec("dynamo", config={"clocks": "vector"}), range(6))
    assert any("durability" in r.failed_checks for r in failures)


def test_a_lost_add_is_told_from_its_write_to_where_it_went():
    result = run(RunSpec("dynamo", seed=0, bugs=("read-repair-fresh-clock",)))
    verdict = next(v for v in result.verdicts if v.name == "durability")
    assert verdict.failed
    story = verdict.witness[0]["why"]
    assert "stored on" in story and "the final audit" in story and "siblings" in story
    assert "superseded it" in story or "every copy of it was dropped" in story


def test_a_departure_never_takes_the_last_copy_of_a_write():
    held = []
    for seed in range(40):
        result = run(RunSpec("dynamo", seed=seed))
        held += [r.text for r in result.fault_log if r.phase == "held"]
        if any("only copy" in t for t in held):
            break
    assert any("only copy" in t for t in held), held


def test_write_availability_judges_puts_in_calm_periods(monkeypatch):
    from faultlab.protocols.dynamo.node import DynamoNode

    spec = RunSpec("dynamo", seed=1)
    verdict = next(v for v in run(spec).verdicts if v.name == "write-availability")
    assert verdict.valid is True and "all" in verdict.explanation
    refuse = DynamoNode.on_request

    def now_and_then(self, req):  # a node that turns puts away for no reason
        if req.f == "add" and req.id % 5 == 0:
            self.ctx.reply(req, "fail", error="unavailable")
        else:
            refuse(self, req)

    monkeypatch.setattr(DynamoNode, "on_request", now_and_then)
    verdict = next(v for v in run(spec).verdicts if v.name == "write-availability")
    assert verdict.failed and "no fault had been active" in verdict.explanation
