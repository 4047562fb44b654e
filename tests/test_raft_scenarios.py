"""The MIT 6.824 Raft tests as deterministic scenarios on the simulation kernel.

Every scenario runs with the Raft safety monitor installed (election safety, log matching,
leader completeness, state machine safety after every step); `Cluster.run` fails the test on
any violation. Faults are explicit: each test says which node is cut off or crashed when.
"""
from __future__ import annotations

from raft_helpers import MS, SEC, Cluster

from faultlab.campaign.runner import run
from faultlab.campaign.spec import RunSpec
from faultlab.nemesis.generator import NemesisConfig
from faultlab.sim.workload import Workload

# ---- 2A: elections ----------------------------------------------------------------------------

def test_initial_election():
    c = Cluster(3)
    leader = c.check_one_leader()
    term = c.node(leader).term
    assert term >= 1
    c.run(2 * SEC)  # no faults: the term must not change
    assert c.node(leader).term == term and c.check_one_leader() == leader
    assert c.terms() == {term}


def test_reelection():
    c = Cluster(3, seed=2)
    leader1 = c.check_one_leader()
    c.disconnect(leader1)
    leader2 = c.check_one_leader()
    assert leader2 != leader1
    c.connect(leader1)  # the old leader rejoins and must not disturb the new one
    c.run(500 * MS)
    leader3 = c.check_one_leader()
    c.disconnect(leader3)
    c.disconnect(next(n for n in c.names if n != leader3))
    c.run(1 * SEC)
    # the remaining node cannot win alone; the isolated leader may think it still leads
    assert [n for _, n in c.leaders() if n != leader3] == []
    for n in c.names:
        c.connect(n)
    c.check_one_leader()


def test_no_leader_without_quorum():
    c = Cluster(5, seed=3)
    leader = c.check_one_leader()
    others = [n for n in c.names if n != leader]
    for n in [leader, *others[:2]]:
        c.crash(n)
    terms_before = max(c.terms())
    c.run(2 * SEC)
    c.check_no_leader()
    assert max(c.terms()) > terms_before  # they keep trying, and failing
    for n in [leader, *others[:2]]:
        c.restart(n)
    c.check_one_leader()


def test_many_elections():
    c = Cluster(7, seed=4)
    c.check_one_leader()
    for _ in range(10):
        down = c.rng.sample(c.names, 3)
        for n in down:
            c.disconnect(n)
        c.check_one_leader()  # the 4 connected nodes elect one
        for n in down:
            c.connect(n)
    c.check_one_leader()


# ---- 2B: agreement ------------------------------------------------------------------------

def test_basic_agree():
    c = Cluster(3, seed=5)
    c.check_one_leader()
    indexes = [c.one(f"{i},", 3) for i in range(5)]
    assert indexes == sorted(indexes)


def test_fail_agree_follower_down():
    c = Cluster(3, seed=6)
    leader = c.check_one_leader()
    follower = next(n for n in c.names if n != leader)
    c.one("1,", 3)
    c.disconnect(follower)
    for i in range(2, 6):
        c.one(f"{i},", 2)  # a majority still commits
    c.connect(follower)
    last = c.one("6,", 3)
    c.run(200 * MS)
    assert c.node(follower).applied >= last


def test_fail_no_agree_without_majority():
    c = Cluster(5, seed=7)
    c.one("10,", 5)
    leader = c.check_one_leader()
    followers = [n for n in c.names if n != leader][:3]
    for n in followers:
        c.disconnect(n)
    req = c.submit(leader, "append", [0, "20,"])
    c.run(1 * SEC)
    index = c.node(leader).last_index()
    assert c.n_committed(index)[0] == 0, "committed without a majority"
    assert req.id not in c.client.replies
    for n in followers:
        c.connect(n)
    c.check_one_leader()
    c.one("30,", 5)


def test_rejoin_of_partitioned_leader():
    c = Cluster(3, seed=8)
    c.one("101,", 3)
    leader1 = c.check_one_leader()
    c.disconnect(leader1)
    for v in ("102,", "103,", "104,"):  # divergent, never committed
        c.submit(leader1, "append", [0, v])
    c.run(100 * MS)
    divergent = c.node(leader1).last_index()
    c.one("103b,", 2)
    leader2 = c.check_one_leader()
    c.disconnect(leader2)
    c.connect(leader1)
    c.one("104b,", 2)
    c.connect(leader2)
    c.one("105,", 3)
    # the old leader's divergent entries were overwritten; on rejoining it handed its
    # pending writes to the new leader, which applied each exactly once
    applied = [cmd[4] for _, cmd, _ in c.monitor.applied.values() if cmd is not None]
    assert divergent >= 4 and c.sim.stats.get("writes-forwarded", 0) >= 3
    assert all(applied.count(v) == 1 for v in ("102,", "103,", "104,")), applied


def test_backup_over_long_divergent_logs():
    c = Cluster(5, seed=9, max_batch=8)
    c.one("start,", 5)
    leader1 = c.check_one_leader()
    others = [n for n in c.names if n != leader1]
    # leader + 1 follower keep accepting 50 entries that never commit
    for n in others[1:]:
        c.disconnect(n)
    for i in range(50):
        c.submit(leader1, "append", [0, f"lost{i},"])
    c.run(300 * MS)
    c.disconnect(leader1)
    c.disconnect(others[0])
    for n in others[1:]:
        c.connect(n)
    for i in range(50):  # the other three commit 50 entries of their own
        c.one(f"ok{i},", 3)
    leader2 = c.check_one_leader()
    other = next(n for n in others[1:] if n != leader2)
    c.disconnect(other)
    for i in range(50):  # 50 more that do not commit
        c.submit(leader2, "append", [0, f"lost2-{i},"])
    c.run(300 * MS)
    for n in c.names:
        c.disconnect(n)
    for n in (leader1, others[0], other):
        c.connect(n)
    for i in range(50):
        c.one(f"again{i},", 3)
    for n in c.names:
        c.connect(n)
    last = c.one("end,", 5)
    assert c.n_committed(last)[0] == 5


def test_persistence_across_crashes():
    c = Cluster(3, seed=10)
    c.one("11,", 3)
    for n in c.names:  # crash and restart everyone
        c.crash(n, lose_unsynced=True)
    for n in c.names:
        c.restart(n)
    c.one("12,", 3)
    leader = c.check_one_leader()
    c.crash(leader, lose_unsynced=True)
    c.restart(leader)
    c.one("13,", 3)
    leader = c.check_one_leader()
    c.crash(leader, lose_unsynced=True)
    c.one("14,", 2)
    c.restart(leader)
    last = c.one("15,", 3)
    follower = next(n for n in c.names if n != c.check_one_leader())
    c.crash(follower, lose_unsynced=True)
    c.one("16,", 2)
    c.restart(follower)
    c.run(300 * MS)
    assert c.node(follower).applied >= last


def _figure8(c: Cluster, rounds: int, unreliable: bool) -> None:
    rng = c.rng
    c.one("start,", 1)
    if unreliable:
        c.sim.net.set_faults(loss=0.1, extra_spread_us=20 * MS)
    up = len(c.names)
    for i in range(rounds):
        leaders = c.leaders()
        if leaders:
            c.submit(leaders[-1][1], "append", [0, f"f{i},"])
        c.run(rng.randrange(1, 13 * MS) if rng.random() < 0.1 else rng.randrange(1, 200 * MS)
              if rng.random() < 0.2 else rng.randrange(1, 13 * MS))
        leaders = c.leaders()
        if leaders and rng.random() < 0.5:
            c.crash(leaders[-1][1], lose_unsynced=unreliable)
            up -= 1
        if up < 3:
            down = [n for n in c.names if c.node(n) is None]
            c.restart(rng.choice(down))
            up += 1
    c.sim.net.heal()
    for n in c.names:
        c.restart(n)
    c.one("end,", len(c.names))


def test_figure8():
    c = Cluster(5, seed=11)
    _figure8(c, 300, unreliable=False)


def test_figure8_unreliable():
    c = Cluster(5, seed=12)
    _figure8(c, 300, unreliable=True)


def test_unreliable_agree():
    c = Cluster(5, seed=13)
    c.sim.net.set_faults(loss=0.1, duplicate=0.2, extra_spread_us=10 * MS)
    leader = c.check_one_leader()
    reqs = [c.submit(leader, "append", [i % 3, f"u{i},"]) for i in range(50)]
    c.run(2 * SEC)
    c.sim.net.heal()
    c.one("done,", 5)
    # every op that a leader accepted was applied exactly once (the monitor checks order)
    applied = [cmd[1] for _, cmd, _ in c.monitor.applied.values() if cmd is not None]
    ok = [r for r in reqs if c.client.replies.get(r.id, ("",))[0] == "ok"]
    assert len(ok) >= 40
    assert all(applied.count(r.id) >= 1 for r in ok)


def test_churn_with_crashes_and_partitions():
    c = Cluster(5, seed=14)
    rng = c.rng
    c.sim.net.set_faults(loss=0.05)
    for i in range(60):
        leaders = c.leaders()
        target = leaders[-1][1] if leaders else rng.choice(c.names)
        c.submit(target, "append", [rng.randrange(3), f"c{i},"])
        r = rng.random()
        victim = rng.choice(c.names)
        if r < 0.2:
            c.crash(victim, lose_unsynced=rng.random() < 0.5)
        elif r < 0.5:
            c.restart(victim)
        elif r < 0.7:
            c.disconnect(victim)
        elif r < 0.9:
            c.connect(victim)
        c.run(rng.randrange(1 * MS, 100 * MS))
    c.sim.heal()
    c.cut.clear()
    c.one("final,", 5)


def test_snapshots_install_on_lagging_follower():
    c = Cluster(3, seed=15, snapshot_every=10)
    leader = c.check_one_leader()
    lagging = next(n for n in c.names if n != leader)
    c.disconnect(lagging)
    for i in range(60):
        c.one(f"s{i},", 2)
    assert c.node(c.check_one_leader()).base > c.node(lagging).last_index()
    c.connect(lagging)
    c.run(500 * MS)
    last = c.one("after,", 3)
    assert c.sim.stats.get("snapshots-installed", 0) >= 1
    node = c.node(lagging)
    assert node.applied >= last
    leader = c.node(c.check_one_leader())
    assert node.kv == leader.kv and node.sessions == leader.sessions
    # a crash restores from the snapshot plus the log tail
    c.crash(lagging)
    c.restart(lagging)
    c.run(300 * MS)
    assert c.node(lagging).kv == c.node(c.check_one_leader()).kv


def test_kv_reads_are_linearizable_through_read_index():
    c = Cluster(3, seed=16)
    leader = c.check_one_leader()
    w = c.submit(leader, "put", [1, "a,"])
    assert c.wait_reply(w)[0] == "ok"
    r = c.submit(leader, "get", [1, None])
    assert c.wait_reply(r)[:2] == ("ok", [1, "a,"])
    cas = c.submit(leader, "cas", [1, ["a,", "b,"]])
    assert c.wait_reply(cas)[0] == "ok"
    bad = c.submit(leader, "cas", [1, ["a,", "c,"]])
    assert c.wait_reply(bad)[0] == "fail"
    # an isolated leader cannot answer reads: it cannot confirm its leadership
    c.disconnect(leader)
    stale = c.submit(leader, "get", [1, None])
    c.run(1 * SEC)
    assert stale.id not in c.client.replies


def test_kv_seven_servers_fifteen_clients():
    """7 servers, 15 clients, partitions, crashes and an unreliable network, checked for
    linearizability and lost writes (as 6.824's KV tests with partitions and crashes)."""
    nemesis = NemesisConfig(families=("partition-halves", "partition-isolate", "isolate-role",
                                      "kill", "kill-role", "lose-unsynced", "loss",
                                      "duplicate", "reorder"), swarm=False)
    workload = Workload(clients=15, think_us=20_000, timeout_us=500_000, keys=5)
    fired = set()
    for seed in range(2):
        result = run(RunSpec("raft", seed=seed, config={"nodes": 7}, workload=workload,
                             nemesis=nemesis))
        names = {v.name: v.valid for v in result.verdicts}
        assert names == {"linearizable": True, "no-lost-writes": True, "liveness": True}, \
            [v.explanation for v in result.verdicts]
        fired |= set(result.faults_fired)
        oks = sum(1 for op in result.history if op.type == "ok")
        assert oks > 500
    assert len(fired) >= 4, fired


def test_campaign_correct_version_passes():
    for seed in range(6):
        result = run(RunSpec("raft", seed=seed))
        assert result.ok, (seed, [v.explanation for v in result.failed])


def test_deterministic_fingerprint():
    a = run(RunSpec("raft", seed=5))
    b = run(RunSpec("raft", seed=5))
    assert a.fingerprint == b.fingerprint and a.history == b.history
