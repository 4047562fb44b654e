"""Schedules are data: generated reproducibly, round-tripped, ended by the heal phase."""
from __future__ import annotations

import pytest

from faultlab.campaign.runner import run
from faultlab.campaign.spec import RunSpec
from faultlab.histories.errors import FaultlabError
from faultlab.nemesis.faults import Fault
from faultlab.nemesis.generator import FAMILIES, NemesisConfig, generate_schedule
from faultlab.nemesis.schedule import Schedule

NAMES = ("n1", "n2", "n3", "n4", "n5")


def test_generation_is_reproducible_and_seed_dependent():
    cfg = NemesisConfig()
    a = generate_schedule(cfg, NAMES, ("primary",), 3, 3_000_000)
    assert a == generate_schedule(cfg, NAMES, ("primary",), 3, 3_000_000)
    assert a != generate_schedule(cfg, NAMES, ("primary",), 4, 3_000_000)


def test_every_fault_ends_before_the_heal():
    for seed in range(30):
        s = generate_schedule(NemesisConfig(), NAMES, ("primary",), seed, 2_000_000)
        assert all(f.end <= 2_000_000 for f in s.faults)


def test_swarm_varies_the_enabled_families_and_all_of_them_occur():
    seen, subsets = set(), set()
    for seed in range(60):
        s = generate_schedule(NemesisConfig(), NAMES, ("primary",), seed, 3_000_000)
        kinds = frozenset((f.kind, f.params.get("mode"), tuple(f.targets)[:1] == ("role:primary",))
                          for f in s.faults)
        subsets.add(frozenset(k[0] for k in kinds))
        seen |= {k[0] for k in kinds}
    assert len(subsets) > 10
    assert seen == {"partition", "kill", "pause", "clock-bump", "clock-skew", "clock-strobe",
                    "loss", "duplicate", "delay", "reorder"}


def test_restricting_families():
    s = generate_schedule(NemesisConfig(families=("kill",)), NAMES, (), 1, 3_000_000)
    assert len(s) > 0 and {f.kind for f in s.faults} == {"kill"}


def test_schedule_json_round_trip_and_sorting():
    s = Schedule([Fault(500, "kill", 10, ("n1",), {"lose_unsynced": True}),
                  Fault(100, "partition", 20, ("n2",), {"mode": "isolate"})])
    assert [f.time for f in s.faults] == [100, 500]
    assert Schedule.from_list(s.to_list()) == s


@pytest.mark.parametrize("bad, message", [
    ({"time": 1, "kind": "meteor", "duration_us": 1}, "unknown fault kind"),
    ({"time": 1, "kind": "partition", "duration_us": 1, "params": {"mode": "x"}}, "mode"),
    ({"time": 1, "kind": "kill"}, "missing field 'duration_us'"),
    ({"time": -5, "kind": "kill", "duration_us": 1}, "negative"),
])
def test_bad_faults_are_rejected_with_a_named_problem(bad, message):
    with pytest.raises(FaultlabError, match=message):
        Schedule.from_list([bad])


def test_unknown_family_is_rejected():
    with pytest.raises(FaultlabError, match="unknown fault family"):
        NemesisConfig(families=("nope",))
    assert "kill-role" in FAMILIES


def test_role_target_isolates_the_current_primary():
    schedule = Schedule([Fault(200_000, "partition", 600_000, ("role:primary",),
                               {"mode": "isolate"})])
    r = run(RunSpec("primary-backup", seed=1, schedule=schedule, heal_at_us=1_000_000))
    start = [rec for rec in r.fault_log if rec.phase == "start"][0]
    assert start.nodes == ("n1",)  # n1 leads the first ballot
    assert r.stats.get("failover", 0) >= 1  # the majority side elected someone else
    assert r.ok


def test_kill_then_restart_and_heal_logged():
    schedule = Schedule([Fault(100_000, "kill", 200_000, ("n3",), {"lose_unsynced": True})])
    r = run(RunSpec("primary-backup", seed=1, schedule=schedule, heal_at_us=500_000))
    assert [(rec.phase, rec.time) for rec in r.fault_log] == [
        ("start", 100_000), ("end", 300_000), ("heal", 500_000)]


def test_brief_families_are_short_and_opt_in():
    from faultlab.nemesis.generator import BRIEF_DURATIONS, GENERAL_FAMILIES
    assert set(BRIEF_DURATIONS) == set(FAMILIES) - set(GENERAL_FAMILIES)
    cfg = NemesisConfig(families=tuple(BRIEF_DURATIONS), swarm=False)
    seen = set()
    for seed in range(20):
        for f in generate_schedule(cfg, NAMES, ("leader",), seed, 3_000_000).faults:
            if f.kind == "reorder":  # a storm's slow network
                assert f.duration_us <= 800_000
                continue
            assert f.kind in ("kill", "partition")
            assert f.duration_us <= 300_000
            if f.kind == "kill" and "on_election" not in f.params:
                assert f.params["lose_unsynced"] is True
            seen.add((f.kind, f.targets == NAMES, f.targets == ("role:leader",),
                      f.params.get("elections", 0) > 1))
    assert ("kill", True, False, False) in seen        # crash-cluster: every node
    assert ("kill", False, True, False) in seen        # leader-churn (and snipes)
    assert ("partition", False, True, False) in seen   # leader-flap (and snipes)
    assert ("partition", False, True, True) in seen    # a storm's later leaders
    # the default config never draws them
    for seed in range(20):
        s = generate_schedule(NemesisConfig(), NAMES, ("leader",), seed, 3_000_000)
        assert all(f.duration_us >= 100_000 or f.end == 3_000_000 for f in s.faults)
        assert not any("on_election" in f.params for f in s.faults)


def _isolations(schedule):
    r = run(RunSpec("raft", seed=3, schedule=schedule, heal_at_us=1_500_000))
    return [rec for rec in r.fault_log if rec.phase == "start"]


def test_on_election_strikes_each_next_leader_soon_after_it_is_elected():
    """Isolating the leader forces an election; a fault with `on_election` waits for it and
    isolates the winner; `elections: 2` waits for the election after that one."""
    iso = {"mode": "isolate"}
    first, second, third = _isolations(Schedule([
        Fault(300_000, "partition", 100_000, ("role:leader",), iso),
        Fault(300_000, "partition", 100_000, ("role:leader",), {**iso, "on_election": 1_000}),
        Fault(300_000, "partition", 100_000, ("role:leader",),
              {**iso, "on_election": 1_000, "elections": 2}),
    ]))
    assert first.time == 300_000
    # each later leader is struck once elected: after an election timeout (>= 40 ms), and
    # long before the earlier isolation ends
    assert 340_000 < second.time < 400_000 and second.time < third.time < second.time + 100_000
    assert len({first.nodes, second.nodes, third.nodes}) == 3
    assert all(len(rec.nodes) == 1 for rec in (first, second, third))


def test_on_election_delays_a_fault_on_named_nodes_too():
    isolate, kill = _isolations(Schedule([
        Fault(300_000, "partition", 100_000, ("role:leader",), {"mode": "isolate"}),
        Fault(300_000, "kill", 50_000, ("n2",), {"on_election": 0}),
    ]))
    assert kill.nodes == ("n2",) and 340_000 < kill.time < 400_000


def test_on_election_waits_for_an_election_that_never_comes():
    quiet = Schedule([Fault(300_000, "partition", 100_000, ("role:leader",),
                            {"mode": "isolate", "on_election": 0})])
    assert _isolations(quiet) == []  # a stable leader: nothing to strike, even after the heal


def test_repeating_a_family_weights_it():
    cfg = NemesisConfig(families=("kill",) * 9 + ("pause",), swarm=False)
    kinds = [f.kind for seed in range(10)
             for f in generate_schedule(cfg, NAMES, (), seed, 3_000_000).faults]
    assert kinds.count("kill") > 4 * kinds.count("pause") > 0


def test_spec_without_nemesis_uses_the_protocols_default():
    from faultlab.campaign.runner import prepare
    from faultlab.protocols.raft import Raft
    spec = RunSpec("raft", seed=7)
    assert spec.nemesis is None and RunSpec.from_dict(spec.to_dict()) == spec
    schedule = prepare(spec)[4]
    assert schedule == generate_schedule(Raft.default_nemesis, ("n1", "n2", "n3", "n4", "n5"),
                                         Raft.roles, 7, spec.heal_at_us)
    explicit = RunSpec("raft", seed=7, nemesis=NemesisConfig())
    assert RunSpec.from_dict(explicit.to_dict()) == explicit
    assert prepare(explicit)[4] != schedule
