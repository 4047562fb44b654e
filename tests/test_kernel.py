"""Each fault kind has an observable effect in the kernel, shown on a tiny recording node."""
from __future__ import annotations

from faultlab.nemesis.kinds import partition_links
from faultlab.sim.kernel import Simulator
from faultlab.sim.network import NetworkConfig
from faultlab.sim.node import Node

NAMES = ("a", "b", "c")


class Recorder(Node):
    """Records what it receives; volatile `seen` is lost on crash, the disk is not."""

    def start(self):
        self.seen = []
        self.booted = "start"

    def recover(self):
        self.seen = []
        self.booted = "recover"

    def on_message(self, src, msg):
        self.seen.append((self.ctx.now(), src, msg))

    def on_timer(self, name, data):
        self.seen.append((self.ctx.now(), "timer", name))


def make(seed=1, **net):
    sim = Simulator(Recorder, NAMES, seed=seed,
                    network=NetworkConfig(base_latency_us=1000, spread_us=0, **net))
    sim.boot()
    return sim


def send_at(sim, t, src, dst, msg):
    sim.at(t, "test send", lambda _: sim.contexts[src].send(dst, msg))


def received(sim, name):
    return [m for _, src, m in sim.nodes[name].seen if src != "timer"]


def test_message_arrives_after_latency():
    sim = make()
    send_at(sim, 0, "a", "b", ("hello",))
    sim.run(until=10_000)
    assert sim.nodes["b"].seen == [(1000, "a", ("hello",))]


def test_partitioned_link_delivers_nothing():
    sim = make()
    sim.net.block(partition_links("isolate", ("a",), NAMES))
    send_at(sim, 0, "a", "b", ("x",))
    send_at(sim, 0, "b", "a", ("y",))
    send_at(sim, 0, "b", "c", ("z",))
    sim.run(until=10_000)
    assert received(sim, "b") == [] and received(sim, "a") == []
    assert received(sim, "c") == [("z",)]


def test_message_in_flight_is_dropped_when_partition_starts():
    sim = make()
    send_at(sim, 0, "a", "b", ("x",))
    sim.at(500, "cut", lambda _: sim.net.block({("a", "b")}))
    sim.run(until=10_000)
    assert received(sim, "b") == []


def test_one_way_partition_blocks_one_direction_only():
    sim = make()
    sim.net.block(partition_links("one-way", ("a",), NAMES))
    send_at(sim, 0, "a", "b", ("from-a",))
    send_at(sim, 0, "b", "a", ("from-b",))
    sim.run(until=10_000)
    assert received(sim, "b") == []
    assert received(sim, "a") == [("from-b",)]


def test_overlapping_partitions_heal_independently():
    sim = make()
    sim.net.block({("a", "b")})
    sim.net.block({("a", "b")})
    sim.net.unblock({("a", "b")})
    send_at(sim, 0, "a", "b", ("x",))
    sim.run(until=10_000)
    assert received(sim, "b") == []


def test_ring_partition_lets_each_node_see_a_majority_but_not_all():
    names = ("n1", "n2", "n3", "n4", "n5")
    links = partition_links("ring", names, names)
    for n in names:
        visible = [m for m in names if m != n and (n, m) not in links]
        assert len(visible) + 1 == 3  # itself and two neighbours: a majority of five
    assert len({frozenset(m for m in names if (n, m) not in links) for n in names}) == 5


def test_bridge_partition_keeps_one_node_connected_to_both_sides():
    names = ("n1", "n2", "n3", "n4", "n5")
    links = partition_links("bridge", names, names)
    assert not any("n3" in link for link in links)
    assert ("n1", "n5") in links and ("n5", "n1") in links and ("n1", "n2") not in links


def test_crash_loses_volatile_state_and_unsynced_writes_but_keeps_synced():
    sim = make()
    disk = sim.disks["a"]
    disk.put("synced", 1)
    disk.sync()
    disk.put("unsynced", 2)
    sim.nodes["a"].seen.append("volatile")
    sim.crash("a", lose_unsynced=True)
    assert sim.nodes["a"] is None
    sim.restart("a")
    node = sim.nodes["a"]
    assert node.booted == "recover" and node.seen == []
    assert disk.get("synced") == 1 and disk.get("unsynced") is None


def test_process_crash_keeps_the_page_cache():
    sim = make()
    sim.disks["a"].put("k", "v")
    sim.crash("a", lose_unsynced=False)
    sim.restart("a")
    assert sim.disks["a"].get("k") == "v"


def test_crashed_node_receives_nothing_and_its_timers_never_fire():
    sim = make()
    sim.contexts["a"].set_timer("t", 5000)
    send_at(sim, 0, "b", "a", ("x",))
    sim.at(10, "crash", lambda _: sim.crash("a"))
    sim.at(20_000, "restart", lambda _: sim.restart("a"))
    sim.run(until=50_000)
    assert sim.nodes["a"].seen == []


def test_pause_delays_timers_and_messages_until_resume():
    sim = make()
    sim.contexts["b"].set_timer("t", 2000)
    send_at(sim, 0, "a", "b", ("x",))
    sim.at(100, "pause", lambda _: sim.pause("b"))
    sim.at(30_000, "resume", lambda _: sim.resume("b"))
    sim.run(until=50_000)
    times = [t for t, _, _ in sim.nodes["b"].seen]
    assert len(times) == 2 and all(t == 30_000 for t in times)


def test_clock_bump_and_skew_change_now():
    sim = make()
    ctx = sim.contexts["a"]
    sim.run(until=1_000_000)
    assert ctx.now() == 1_000_000
    sim.bump_clock("a", 250_000)
    assert ctx.now() == 1_250_000 and sim.contexts["b"].now() == 1_000_000
    sim.skew_clock("a", 100_000)  # 10% fast
    sim.run(until=2_000_000)
    assert ctx.now() == 1_250_000 + 1_000_000 + 100_000
    sim.reset_clock("a")
    assert ctx.now() == 2_000_000


def test_fast_clock_fires_timers_early_in_true_time():
    sim = make()
    sim.skew_clock("a", 1_000_000)  # twice as fast
    sim.contexts["a"].set_timer("t", 10_000)
    sim.run(until=100_000)
    assert [(t, w) for t, w, _ in sim.nodes["a"].seen] == [(10_000, "timer")]  # local time
    assert sim.time == 100_000


def test_duplication_delivers_twice():
    sim = make()
    sim.net.set_faults(duplicate=1.0)
    send_at(sim, 0, "a", "b", ("x",))
    sim.run(until=10_000)
    assert received(sim, "b") == [("x",), ("x",)]


def test_loss_drops_messages():
    sim = make()
    sim.net.set_faults(loss=1.0)
    for i in range(20):
        send_at(sim, i, "a", "b", (i,))
    sim.run(until=10_000)
    assert received(sim, "b") == []


def test_reorder_spread_reorders_messages():
    sim = make()
    sim.net.set_faults(extra_spread_us=50_000)
    for i in range(30):
        send_at(sim, i * 10, "a", "b", (i,))
    sim.run(until=10_000_000)
    got = [m[0] for m in received(sim, "b")]
    assert sorted(got) == list(range(30)) and got != list(range(30))


def test_delay_adds_latency():
    sim = make()
    sim.net.set_faults(delay_us=40_000)
    send_at(sim, 0, "a", "b", ("x",))
    sim.run(until=100_000)
    assert sim.nodes["b"].seen[0][0] == 41_000


def test_timer_replaced_by_name_fires_once():
    sim = make()
    ctx = sim.contexts["a"]
    ctx.set_timer("t", 1000)
    ctx.set_timer("t", 3000)
    sim.run(until=10_000)
    assert [t for t, _, _ in sim.nodes["a"].seen] == [3000]


def test_invariant_violation_stops_the_run():
    sim = make()
    sim.invariants.append(lambda s: "b got a message" if s.nodes["b"].seen else None)
    send_at(sim, 0, "a", "b", ("x",))
    send_at(sim, 5000, "a", "c", ("y",))
    sim.run(until=10_000)
    assert sim.violation and "b got a message" in sim.violation
    assert received(sim, "c") == []


def test_heal_restarts_resumes_and_reopens_everything():
    sim = make()
    sim.crash("a")
    sim.pause("b")
    sim.net.block({("c", "b")})
    sim.net.set_faults(loss=0.5)
    sim.bump_clock("c", 99)
    sim.heal()
    assert sim.up == set(NAMES) and not sim.paused and not sim.net.blocked
    assert sim.net.loss == 0 and sim.contexts["c"].now() == sim.time
