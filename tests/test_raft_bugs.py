"""Each planted Raft bug is found by the check it should trip, and the correct version passes
the very same run. Scenarios are explicit where the bug needs a precise interleaving (Figure 8,
a forgotten vote); otherwise fixed campaign seeds are used (runs are deterministic)."""
from __future__ import annotations

import pytest
from raft_helpers import MS, SEC, Cluster

from faultlab.campaign.runner import run
from faultlab.campaign.spec import RunSpec
from faultlab.protocols.raft.protocol import BUGS, Raft


def _failed_checks(result) -> set[str]:
    """Failed check names; an invariant verdict is named by the property it states."""
    return {v.name for v in result.failed}


def _campaign(bug, seeds, **spec):
    found = {}
    for seed in seeds:
        bugs = (bug,) if bug else ()
        result = run(RunSpec("raft", seed=seed, bugs=bugs, **spec))
        found[seed] = _failed_checks(result)
    return found


def test_every_bug_is_declared_and_off_by_default():
    assert set(Raft.bugs) == set(BUGS) == {
        "figure8", "vote-without-log-check", "no-persist-vote", "stale-leader-read",
        "accept-stale-term-reply", "unconditional-truncate", "dedup-not-in-snapshot",
        "fixed-election-timeout"}
    c = Cluster(3)
    assert all(node.bugs == frozenset() for node in c.sim.nodes.values())


# ---- explicit scenarios ---------------------------------------------------------------------

def _figure8_scenario(bugs) -> Cluster:
    """Figure 8 of the Raft paper, step by step on 5 servers."""
    c = Cluster(5, seed=21, bugs=bugs)
    c.one("init,", 5)
    s1 = c.check_one_leader()
    rest = [n for n in c.names if n != s1]
    s2 = rest[0]
    # (a) S1 (term 2) replicates entry 2 to S2 only
    for n in rest[1:]:
        c.disconnect(n)
    c.submit(s1, "append", [0, "a,"])
    c.run(50 * MS)
    assert c.node(s2).last_index() == 2
    # (b) S1 crashes; one of S3..S5 is elected and takes entry 2 of its term, alone
    c.crash(s1)
    c.disconnect(s2)
    for n in rest[1:]:
        c.connect(n)
    s5 = c.check_one_leader()
    c.disconnect(s5)
    c.submit(s5, "append", [0, "b,"])
    c.run(50 * MS)
    assert c.node(s5).last_index() == 2 and c.node(s5).term_at(2) > c.node(s2).term_at(2)
    # (c) S5 crashes; S1 returns and wins a later term with S2, S3, S4; it replicates its old
    # entry 2 to a majority
    c.crash(s5)
    c.connect(s5)
    c.restart(s1)
    c.connect(s2)
    s3_4 = [n for n in rest[1:] if n != s5]
    leader = None
    for _ in range(3000):
        c.run(1 * MS)
        leaders = c.leaders()
        leader = leaders[-1][1] if leaders else None
        if leader and sum(1 for n in s3_4 if c.node(n).last_index() >= 2) == 2:
            break
    assert leader in (s1, s2)
    c.run(3 * MS)  # the acknowledgements reach the leader
    # (d) the leader crashes before any entry of its own term is on a majority; S5 returns
    # and, with a later last term than anyone, is elected and overwrites entry 2
    c.crash(leader)
    voters = [n for n in c.names if n not in (leader, s5)]
    c.sim.net.block([(a, b) for a in voters for b in voters if a != b])  # only S5 can win
    c.restart(s5)
    c.sim.run(c.sim.time + 2 * SEC)
    return c




def _forgotten_vote_scenario(bugs) -> Cluster:
    """A voter grants a vote, crashes and restarts, and votes again in the same term."""
    c = Cluster(3, seed=22, bugs=bugs)
    c.one("init,", 3)
    x = c.check_one_leader()
    c.crash(x)
    a = c.check_one_leader()  # elected with the vote of the third node
    v = next(n for n in c.names if n not in (x, a))
    c.disconnect(a)
    c.crash(v)
    c.restart(v)
    c.restart(x)
    c.sim.run(c.sim.time + 1 * SEC)
    return c


@pytest.mark.parametrize("scenario, bug, prop", [
    (_figure8_scenario, "figure8", "leader-completeness"),
    (_forgotten_vote_scenario, "no-persist-vote", "election-safety"),
])
def test_scenario_found_by_its_invariant(scenario, bug, prop):
    c = scenario({bug})
    assert c.violation and c.violation.startswith(prop), c.violation
    correct = scenario(set())
    assert correct.violation is None
    assert correct.check_one_leader()  # e.g. Figure 8: S5 overwrote an uncommitted entry


def _isolated_leader_read(bugs):
    c = Cluster(3, seed=23, bugs=bugs)
    old = c.check_one_leader()
    assert c.wait_reply(c.submit(old, "put", [1, "a,"]))[0] == "ok"
    c.disconnect(old)
    new = c.check_one_leader()
    assert new != old
    assert c.wait_reply(c.submit(new, "put", [1, "b,"]))[0] == "ok"
    req = c.submit(old, "get", [1, None])  # the old leader still believes it leads
    c.run(500 * MS)
    return c.client.replies.get(req.id)


def test_stale_leader_read_answers_from_a_deposed_leader():
    assert _isolated_leader_read({"stale-leader-read"})[:2] == ("ok", [1, "a,"])
    assert _isolated_leader_read(set()) is None  # it cannot confirm leadership: no answer


# ---- the default campaign ---------------------------------------------------------------------

# bug -> (the check it trips, the first failing seed of `benchmarks/detect.py --runs 300`)
FIRST_FOUND = {
    "figure8": ("leader-completeness", 32),
    "vote-without-log-check": ("leader-completeness", 0),
    "no-persist-vote": ("election-safety", 11),
    "stale-leader-read": ("linearizable", 4),
    "accept-stale-term-reply": ("election-safety", 10),
    "unconditional-truncate": ("leader-completeness", 0),
    "dedup-not-in-snapshot": ("state-machine-safety", 10),
}


@pytest.mark.parametrize("bug", sorted(FIRST_FOUND))
def test_bug_found_by_default_campaign(bug):
    """The plain `faultlab run raft --bug BUG` finds it with the right check, and the correct
    version passes the very same seed (same schedule, same clients)."""
    assert set(FIRST_FOUND) | {"fixed-election-timeout"} == set(BUGS)  # each bug has a row
    check, seed = FIRST_FOUND[bug]
    assert check in _campaign(bug, [seed])[seed]
    assert not _campaign(None, [seed])[seed]


def test_fixed_election_timeout_found_only_by_liveness():
    found = _campaign("fixed-election-timeout", range(3))
    failing = [s for s, checks in found.items() if checks]
    assert failing, found
    assert all(checks <= {"liveness"} for checks in found.values()), found
    assert all(not checks for checks in _campaign(None, failing).values())
