"""Schedules are data: generated reproducibly, round-tripped, checked by name and range,
ended by the heal phase; triggered faults strike after the announcements they wait for."""
from __future__ import annotations

import pytest

from faultlab.campaign.runner import prepare, run
from faultlab.campaign.spec import RunSpec
from faultlab.errors import FaultlabError
from faultlab.nemesis.families import FAMILIES
from faultlab.nemesis.faults import ANNOUNCER, Fault, Trigger
from faultlab.nemesis.generator import (
    NemesisConfig,
    Target,
    general_families,
    generate_schedule,
)
from faultlab.nemesis.inject import Nemesis
from faultlab.nemesis.schedule import Schedule
from faultlab.sim.kernel import Simulator
from faultlab.sim.network import NetworkConfig
from faultlab.sim.node import Node

NAMES = ("n1", "n2", "n3", "n4", "n5")
PRIMARY = Target(NAMES, NAMES, roles=("primary",))
LEADER = Target(NAMES, NAMES, roles=("leader",), events=("leader-elected",))


def test_generation_is_reproducible_and_seed_dependent():
    cfg = NemesisConfig()
    a = generate_schedule(cfg, PRIMARY, 3, 3_000_000)
    assert a == generate_schedule(cfg, PRIMARY, 3, 3_000_000)
    assert a != generate_schedule(cfg, PRIMARY, 4, 3_000_000)


def test_every_fault_ends_before_the_heal():
    for seed in range(30):
        s = generate_schedule(NemesisConfig(), PRIMARY, seed, 2_000_000)
        assert all(f.end <= 2_000_000 for f in s.faults)


def test_swarm_varies_the_enabled_families_and_all_of_them_occur():
    seen, subsets = set(), set()
    for seed in range(60):
        s = generate_schedule(NemesisConfig(), PRIMARY, seed, 3_000_000)
        kinds = frozenset(f.kind for f in s.faults)
        subsets.add(kinds)
        seen |= kinds
    assert len(subsets) > 10
    assert seen == {"partition", "kill", "pause", "clock-bump", "clock-skew", "clock-strobe",
                    "loss", "duplicate", "delay", "reorder"}


def test_restricting_families():
    s = generate_schedule(NemesisConfig(families=("kill",)), Target(NAMES, NAMES), 1, 3_000_000)
    assert len(s) > 0 and {f.kind for f in s.faults} == {"kill"}


def test_schedule_json_round_trip_and_sorting():
    s = Schedule([Fault(500, "kill", 10, ("n1",), {"lose_unsynced": True}),
                  Fault(100, "partition", 20, (ANNOUNCER,), {"mode": "isolate"},
                        Trigger("leader-elected", nth=2, after_us=300, source="role:leader"))])
    assert [f.time for f in s.faults] == [100, 500]
    assert Schedule.from_list(s.to_list()) == s
    assert s.faults[0].trigger.to_dict() == {"event": "leader-elected", "nth": 2,
                                             "after_us": 300, "source": "role:leader"}


@pytest.mark.parametrize("bad, message", [
    ({"time": 1, "kind": "meteor", "duration_us": 1}, "unknown fault kind"),
    ({"time": 1, "kind": "partition", "duration_us": 1, "params": {"mode": "x"}}, "mode"),
    ({"time": 1, "kind": "kill"}, "missing field 'duration_us'"),
    ({"time": -5, "kind": "kill", "duration_us": 1}, "from 0 to"),
    ({"time": 1, "kind": "kill", "duration_us": 10**18}, "from 0 to"),
    ({"time": 1, "kind": "loss", "duration_us": 1, "params": {"p": 2}}, "from 0 to 1"),
    ({"time": 1, "kind": "loss", "duration_us": 1, "params": {"q": 0.1}}, "no param 'q'"),
    ({"time": 1, "kind": "delay", "duration_us": 1, "params": {}}, "needs param 'delay_us'"),
    ({"time": 1, "kind": "kill", "duration_us": 1, "params": {"lose_unsynced": 1}}, "bool"),
    ({"time": 1, "kind": "kill", "duration_us": 1, "targets": "n1"}, "must be a list"),
    ({"time": 1, "kind": "kill", "duration_us": 1, "targets": [ANNOUNCER]}, "no trigger"),
    ({"time": 1, "kind": "kill", "duration_us": 1, "trigger": {"event": "x", "nth": 0}},
     "nth must be"),
    ({"time": 1, "kind": "kill", "duration_us": 1, "trigger": {"nth": 1}}, "'event'"),
    ({"time": 1, "kind": "kill", "duration_us": 1, "on_election": 5}, "unknown field"),
])
def test_bad_faults_are_rejected_with_a_named_problem(bad, message):
    with pytest.raises(FaultlabError, match=message):
        Schedule.from_list([bad])


def test_unknown_family_is_rejected():
    with pytest.raises(FaultlabError, match="unknown fault family"):
        NemesisConfig(families=("nope",))
    assert "kill-role" in FAMILIES


def test_families_that_cannot_strike_are_not_drawn():
    """No roles: no role families; one node: no partitions, which would cut nothing."""
    one = Target(("n1",), ("n1",))
    for seed in range(20):
        for f in generate_schedule(NemesisConfig(), one, seed, 3_000_000).faults:
            assert f.kind != "partition" and not any(t.startswith("role:") for t in f.targets)
    with pytest.raises(FaultlabError, match="two nodes"):
        one.refuse(("partition-halves",))
    with pytest.raises(FaultlabError, match="membership"):
        PRIMARY.refuse(("churn",))


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
    brief = [name for name, fam in FAMILIES.items() if not fam.general]
    assert set(brief) == {"leader-churn", "flicker", "leader-flap", "crash-cluster",
                          "leader-snipe", "leader-storm", "event-strike", "churn",
                          "replace", "data-loss"}
    cfg = NemesisConfig(families=tuple(f for f in brief if f not in (
                            "churn", "replace", "event-strike", "data-loss")),
                        swarm=False)
    seen = set()
    for seed in range(20):
        for f in generate_schedule(cfg, LEADER, seed, 3_000_000).faults:
            if f.kind == "reorder":  # a storm's slow network
                assert f.duration_us <= 800_000
                continue
            assert f.kind in ("kill", "partition")
            assert f.duration_us <= 300_000
            if f.kind == "kill" and f.trigger is None:
                assert f.params["lose_unsynced"] is True
            seen.add((f.kind, f.targets == NAMES, f.targets == ("role:leader",),
                      f.trigger.nth if f.trigger else 0))
    assert ("kill", True, False, 0) in seen        # crash-cluster: every node
    assert ("kill", False, True, 0) in seen        # leader-churn
    assert ("partition", False, True, 0) in seen   # leader-flap, a storm's first isolation
    assert ("partition", False, False, 2) in seen  # a storm's second new leader
    assert ("kill", False, False, 1) in seen       # a snipe
    # the default config never draws them
    for seed in range(20):
        s = generate_schedule(NemesisConfig(), LEADER, seed, 3_000_000)
        assert all(f.duration_us >= 100_000 or f.end == 3_000_000 for f in s.faults)
        assert not any(f.trigger for f in s.faults)
    assert "leader-storm" not in general_families()


def test_event_strikes_hit_the_announcer_between_two_steps():
    events = ("prepare-logged", "vote-sent")
    target = Target(NAMES, NAMES, roles=("leader",), events=events)
    cfg = NemesisConfig(families=("event-strike",), swarm=False)
    faults = [f for seed in range(10)
              for f in generate_schedule(cfg, target, seed, 3_000_000).faults]
    assert {f.trigger.event for f in faults} == set(events)
    assert all(f.trigger.after_us <= 3_000 and f.duration_us <= 300_000 for f in faults)
    assert {f.kind for f in faults if f.targets == ("announcer",)} == {"kill", "pause",
                                                                        "partition"}
    assert any(f.targets != ("announcer",) for f in faults)  # another node cut off too
    with pytest.raises(FaultlabError, match="needs a protocol that announces events"):
        Target(NAMES, NAMES).refuse(("event-strike",))


def _isolations(schedule):
    r = run(RunSpec("raft", seed=3, schedule=schedule, heal_at_us=1_500_000))
    return [rec for rec in r.fault_log if rec.phase == "start"]


def test_trigger_strikes_each_next_leader_soon_after_it_is_elected():
    """Isolating the leader forces an election; a fault triggered by `leader-elected`
    isolates the winner (the announcer); `nth: 2` waits for the election after that one."""
    iso = {"mode": "isolate"}
    first, second, third = _isolations(Schedule([
        Fault(300_000, "partition", 100_000, ("role:leader",), iso),
        Fault(300_000, "partition", 100_000, (ANNOUNCER,), iso,
              Trigger("leader-elected", after_us=1_000)),
        Fault(300_000, "partition", 100_000, (ANNOUNCER,), iso,
              Trigger("leader-elected", nth=2, after_us=1_000)),
    ]))
    assert first.time == 300_000
    # each later leader is struck once elected: after an election timeout (>= 40 ms), and
    # long before the earlier isolation ends
    assert 340_000 < second.time < 400_000 and second.time < third.time < second.time + 100_000
    assert len({first.nodes, second.nodes, third.nodes}) == 3
    assert all(len(rec.nodes) == 1 for rec in (first, second, third))


def test_trigger_delays_a_fault_on_named_nodes_too():
    isolate, kill = _isolations(Schedule([
        Fault(300_000, "partition", 100_000, ("role:leader",), {"mode": "isolate"}),
        Fault(300_000, "kill", 50_000, ("n2",), trigger=Trigger("leader-elected")),
    ]))
    assert kill.nodes == ("n2",) and 340_000 < kill.time < 400_000


def test_trigger_waits_for_an_event_that_never_comes():
    quiet = Schedule([Fault(300_000, "partition", 100_000, (ANNOUNCER,), {"mode": "isolate"},
                            Trigger("leader-elected"))])
    assert _isolations(quiet) == []  # a stable leader: nothing to strike, even after the heal


# ---- triggers and parameters on a bare kernel -----------------------------------------------

class Ticker(Node):
    """Announces "tick" every 10 ms of its clock, starting 10 ms after boot."""

    def start(self):
        self.ctx.set_timer("tick", 10_000)

    def on_timer(self, name, data):
        self.ctx.announce("tick", n=len(self.ctx.name))
        self.ctx.set_timer("tick", 10_000)


def _run_schedule(faults, until=100_000, names=("a", "b")):
    schedule = Schedule.from_list(Schedule(faults).to_list())  # as a bundle carries it
    sim = Simulator(Ticker, names, seed=1, network=NetworkConfig(base_latency_us=1000,
                                                                  spread_us=0))
    nemesis = Nemesis(sim, schedule, role_holders=lambda role: [])
    sim.boot()
    nemesis.install(heal_at=until)
    return sim, nemesis


def test_a_trigger_strikes_the_stated_microseconds_after_the_nth_announcement():
    """Armed at 15 ms, the fault counts the ticks of node b at 20, 30 and 40 ms and strikes
    1,234 us after the third; a's ticks (filtered by source) do not count."""
    fault = Fault(15_000, "pause", 5_000, (ANNOUNCER,),
                  trigger=Trigger("tick", nth=3, after_us=1_234, source="b"))
    sim, nemesis = _run_schedule([fault])
    sim.run(until=100_000)
    start = [r for r in nemesis.log if r.phase == "start"]
    assert [(r.time, r.nodes) for r in start] == [(41_234, ("b",))]
    assert sim.stats["tick"] == 2 * 9 + 2  # both nodes tick every 10 ms, 10 .. 100 ms


def test_message_fault_parameters_are_read_by_name_after_a_round_trip():
    """A triggered delay fault uses its delay_us, not whichever parameter comes first."""
    fault = Fault(0, "delay", 50_000, (), {"delay_us": 7_000},
                  Trigger("tick", after_us=0))
    sim, nemesis = _run_schedule([fault])
    sim.run(until=10_001)
    assert sim.net.latency_us == 1000 + 7_000 and sim.net.degraded
    sim.run(until=70_000)
    assert sim.net.latency_us == 1000 and not sim.net.degraded


def test_repeating_a_family_weights_it():
    cfg = NemesisConfig(families=("kill",) * 9 + ("pause",), swarm=False)
    kinds = [f.kind for seed in range(10)
             for f in generate_schedule(cfg, Target(NAMES, NAMES), seed, 3_000_000).faults]
    assert kinds.count("kill") > 4 * kinds.count("pause") > 0


def test_spec_without_nemesis_uses_the_protocols_default():
    from faultlab.protocols.raft.protocol import Raft
    spec = RunSpec("raft", seed=7)
    assert spec.nemesis is None and RunSpec.from_dict(spec.to_dict()) == spec
    schedule = prepare(spec).schedule
    target = Target(NAMES, NAMES, roles=Raft.roles, events=Raft.announces)
    assert schedule == generate_schedule(Raft.default_nemesis, target, 7, spec.heal_at_us)
    explicit = RunSpec("raft", seed=7, nemesis=NemesisConfig())
    assert RunSpec.from_dict(explicit.to_dict()) == explicit
    assert prepare(explicit).schedule != schedule
