"""Fault families: ways to draw faults, one function each.

A family is not a fault kind: several draw the same kind with different targets or
durations. The general ones take their duration from the nemesis config; the brief ones
choose their own, much shorter, so they land inside one election or one replication round,
and a protocol opts into them by naming them in its default nemesis:

- leader-churn: crash the current leader (losing unsynced writes) for 10-200 ms, so a new
  election starts while the old leader comes back quickly with its old log;
- flicker: crash one random node (losing unsynced writes) for 1-40 ms, e.g. between granting
  a vote and the next candidate's request in the same term;
- leader-flap: isolate the current leader for 20-300 ms, so a new leader is elected and the
  old one returns with entries of its term that no majority holds;
- leader-snipe: 0-5 ms after the next leader is elected, crash or isolate it for 20-300 ms:
  it strikes before the new leader's own entries reach a majority;
- leader-storm: isolate the current leader and then each of the next 3-8 leaders 0-5 ms after
  its election, each for 20-200 ms: a succession of leaders that each leave a different
  uncommitted tail behind, the setting of the Raft paper's Figure 8; half the storms also
  reorder messages for 0.2-0.8 s, so replies of one term arrive in the next;
- crash-cluster: crash every node (losing unsynced writes) and restart all of them after
  10-300 ms: whatever a node answered without persisting is forgotten by everyone at once;
- event-strike: 0-3 ms after a node announces one of the protocol's events (two-phase
  commit's prepare-logged, vote-sent, decision-logged, decision-sent), crash it (half the
  time losing unsynced writes), pause it or isolate it for 10-300 ms, and a third of the
  time isolate another node at the same moment: faults between two steps of a protocol;
- churn: joins, graceful leaves and permanent failures, within the protocol's churn limits;
- replace: a permanent failure and, 0-100 ms later, a spare joining in its place.
"""
from __future__ import annotations

import random
from collections.abc import Callable

import attrs

from faultlab.nemesis.faults import ANNOUNCER, LEADER, ROLE_PREFIX, Fault, Trigger

LEADER_ELECTED = "leader-elected"  # the event leader-aimed families wait for


@attrs.frozen
class ChurnLimits:
    """What membership changes a protocol survives; the generator never goes past them.

    `min_members`: never fewer members (exempt nodes not counted). `max_joining` and
    `max_leaving`: joins and leaves in progress at once (a join lasts `join_us`, a leave
    hands over for `handoff_us`).
    `may_remove(members, node)`: the protocol's own precondition, on the membership
    alone, for `node` leaving or failing; None allows any. (One on the live state is the
    protocol's `may_depart`, asked when the fault strikes.)
    """

    min_members: int = 1
    max_joining: int = 1
    max_leaving: int = 1
    join_us: tuple[int, int] = (100_000, 500_000)
    handoff_us: tuple[int, int] = (20_000, 200_000)
    may_remove: Callable[[frozenset[str], str], bool] | None = None


class Draw:
    """What a family may draw from at one moment of a schedule being generated: the rng,
    the time, the members it may strike, and the protocol's roles, events and churn limits.
    It follows membership through the schedule as churn faults are drawn."""

    def __init__(self, rng: random.Random, heal_at: int, durations: tuple[int, int],
                 slots: tuple[str, ...], members: tuple[str, ...], exempt: frozenset[str],
                 roles: tuple[str, ...], events: tuple[str, ...],
                 churn: ChurnLimits | None) -> None:
        self.rng = rng
        self.t = 0
        self.heal_at = heal_at
        self.durations = durations
        self.exempt = exempt
        self.roles = roles
        self.events = events
        self.churn = churn
        self.members = set(members)
        self.spares = {s for s in slots if s not in self.members and s not in exempt}
        self._joins: list[int] = []   # end times of joins in progress
        self._leaves: list[int] = []  # end times of hand-offs in progress

    # ---- what families draw -------------------------------------------------------------

    @property
    def nodes(self) -> list[str]:
        """The members the nemesis may strike now, in name order."""
        return sorted(self.members - self.exempt)

    def duration(self, lo: int | None = None, hi: int | None = None) -> int:
        """A duration from the config's range (or lo..hi), ending by the heal."""
        lo = self.durations[0] if lo is None else lo
        hi = self.durations[1] if hi is None else hi
        return min(self.rng.randint(lo, hi), self.heal_at - self.t)

    def one(self) -> tuple[str, ...]:
        return (self.rng.choice(self.nodes),)

    def some(self) -> tuple[str, ...]:
        nodes = self.nodes
        return tuple(sorted(self.rng.sample(nodes, self.rng.randint(1, max(1, len(nodes) // 2)))))

    def role(self) -> tuple[str, ...]:
        return (ROLE_PREFIX + self.roles[0],)

    def fault(self, kind: str, targets: tuple[str, ...] = (), duration: int | None = None,
              trigger: Trigger | None = None, **params) -> Fault:
        return Fault(self.t, kind, self.duration() if duration is None else duration,
                     targets, params, trigger)

    # ---- membership as the schedule goes ---------------------------------------------------

    def note(self, fault: Fault) -> None:
        """Follow the membership changes of a fault just drawn."""
        if fault.kind == "join":
            self.spares.difference_update(fault.targets)
            self.members.update(fault.targets)
            self._joins.append(fault.end)
        elif fault.kind in ("leave", "fail"):
            self.members.difference_update(fault.targets)
            if fault.kind == "leave":
                self._leaves.append(fault.end)

    def joins_in_progress(self) -> int:
        return sum(1 for end in self._joins if end > self.t)

    def leaves_in_progress(self) -> int:
        return sum(1 for end in self._leaves if end > self.t)

    def removable(self) -> list[str]:
        """Members that may leave or fail now without breaking the churn limits."""
        churn = self.churn
        if churn is None or len(self.nodes) <= churn.min_members:
            return []
        members = frozenset(self.members)
        return [n for n in self.nodes
                if churn.may_remove is None or churn.may_remove(members, n)]


@attrs.frozen
class Family:
    name: str
    draw: Callable[[Draw], list[Fault]]
    general: bool  # drawn when a config names no families
    needs: str = "a node"  # or "two nodes", "roles", "leader-elected", "events", "churn",
    #                        "network"

    def missing(self, draw: Draw) -> str | None:
        """Why this family cannot strike the system described by `draw` now, or None."""
        if self.needs in ("a node", "roles") and not draw.nodes:
            return "it needs a node the nemesis may strike"
        if self.needs == "roles" and not draw.roles:
            return "it needs a protocol with roles"
        if self.needs == "two nodes" and len(draw.nodes) < 2:
            return "it needs two nodes the nemesis may cut apart"
        if self.needs == LEADER_ELECTED and LEADER_ELECTED not in draw.events:
            return f"it needs a protocol that announces {LEADER_ELECTED}"
        if self.needs == "events" and not draw.events:
            return "it needs a protocol that announces events"
        if self.needs == "churn" and draw.churn is None:
            return "it needs a protocol that allows membership changes"
        return None


FAMILIES: dict[str, Family] = {}


def family(name: str, *, general: bool = True, needs: str = "a node"):
    """Register a family function under `name`."""
    def register(fn: Callable[[Draw], list[Fault]]):
        FAMILIES[name] = Family(name, fn, general, needs)
        return fn
    return register


# ---- partitions ------------------------------------------------------------------------------

@family("partition-halves", needs="two nodes")
def partition_halves(d: Draw) -> list[Fault]:
    return [d.fault("partition", d.some(), mode="halves")]


@family("partition-isolate", needs="two nodes")
def partition_isolate(d: Draw) -> list[Fault]:
    return [d.fault("partition", d.one(), mode="isolate")]


@family("partition-ring", needs="two nodes")
def partition_ring(d: Draw) -> list[Fault]:
    nodes = d.nodes
    return [d.fault("partition", tuple(d.rng.sample(nodes, len(nodes))), mode="ring")]


@family("partition-bridge", needs="two nodes")
def partition_bridge(d: Draw) -> list[Fault]:
    nodes = d.nodes
    return [d.fault("partition", tuple(d.rng.sample(nodes, len(nodes))), mode="bridge")]


@family("partition-one-way", needs="two nodes")
def partition_one_way(d: Draw) -> list[Fault]:
    return [d.fault("partition", d.some(), mode="one-way")]


@family("isolate-role", needs="roles")
def isolate_role(d: Draw) -> list[Fault]:
    return [d.fault("partition", d.role(), mode="isolate")]


@family("leader-flap", general=False, needs="roles")
def leader_flap(d: Draw) -> list[Fault]:
    return [d.fault("partition", d.role(), d.duration(20_000, 300_000), mode="isolate")]


# ---- crashes and pauses ----------------------------------------------------------------------

@family("kill")
def kill(d: Draw) -> list[Fault]:
    return [d.fault("kill", d.some())]


@family("kill-role", needs="roles")
def kill_role(d: Draw) -> list[Fault]:
    return [d.fault("kill", d.role())]


@family("lose-unsynced")
def lose_unsynced(d: Draw) -> list[Fault]:
    return [d.fault("kill", d.some(), lose_unsynced=True)]


@family("pause")
def pause(d: Draw) -> list[Fault]:
    return [d.fault("pause", d.some())]


@family("data-loss", general=False, needs="roles")
def data_loss(d: Draw) -> list[Fault]:
    """A node of one of the protocol's roles loses its cached data or its local files
    (an RDD engine's evicted blocks and lost shuffle outputs)."""
    role = (ROLE_PREFIX + d.rng.choice(d.roles),)
    return [d.fault("lose-data", role, d.duration(1_000, 1_000),
                    what=d.rng.choice(("memory", "disk")))]


@family("leader-churn", general=False, needs="roles")
def leader_churn(d: Draw) -> list[Fault]:
    return [d.fault("kill", d.role(), d.duration(10_000, 200_000), lose_unsynced=True)]


@family("flicker", general=False)
def flicker(d: Draw) -> list[Fault]:
    return [d.fault("kill", d.one(), d.duration(1_000, 40_000), lose_unsynced=True)]


@family("crash-cluster", general=False)
def crash_cluster(d: Draw) -> list[Fault]:
    return [d.fault("kill", tuple(d.nodes), d.duration(10_000, 300_000), lose_unsynced=True)]


# ---- aimed at each new leader, through the leader-elected announcement --------------------

@family("leader-snipe", general=False, needs=LEADER_ELECTED)
def leader_snipe(d: Draw) -> list[Fault]:
    trigger = Trigger(LEADER_ELECTED, after_us=d.rng.randint(0, 5_000))
    duration = d.duration(20_000, 300_000)
    if d.rng.random() < 0.5:
        return [d.fault("kill", (ANNOUNCER,), duration, trigger)]
    return [d.fault("partition", (ANNOUNCER,), duration, trigger, mode="isolate")]


@family("leader-storm", general=False, needs=LEADER_ELECTED)
def leader_storm(d: Draw) -> list[Fault]:
    """The current leader and the next 3-8 leaders, each isolated soon after its election,
    sometimes under message reordering."""
    faults = [d.fault("partition", (LEADER,), d.duration(20_000, 200_000), mode="isolate")]
    for k in range(1, d.rng.randint(4, 9)):
        trigger = Trigger(LEADER_ELECTED, nth=k, after_us=d.rng.randint(0, 5_000))
        faults.append(d.fault("partition", (ANNOUNCER,), d.duration(20_000, 200_000), trigger,
                              mode="isolate"))
    if d.rng.random() < 0.5:  # replies from one term arriving in the next
        faults.append(d.fault("reorder", (), d.duration(200_000, 800_000),
                              spread_us=d.rng.randint(5_000, 100_000)))
    return faults


# ---- aimed between two steps of a protocol, through any announced event ---------------------

@family("event-strike", general=False, needs="events")
def event_strike(d: Draw) -> list[Fault]:
    trigger = Trigger(d.rng.choice(d.events), after_us=d.rng.randint(0, 3_000))
    duration = d.duration(10_000, 300_000)
    how = d.rng.randrange(4)
    if how < 2:
        faults = [d.fault("kill", (ANNOUNCER,), duration, trigger, lose_unsynced=how == 1)]
    elif how == 2:
        faults = [d.fault("pause", (ANNOUNCER,), duration, trigger)]
    else:
        faults = [d.fault("partition", (ANNOUNCER,), duration, trigger, mode="isolate")]
    if d.rng.random() < 1 / 3:  # and another node cut off at that moment
        faults.append(d.fault("partition", d.one(), duration, trigger, mode="isolate"))
    return faults


# ---- clocks ----------------------------------------------------------------------------------

@family("clock-bump")
def clock_bump(d: Draw) -> list[Fault]:
    delta = d.rng.choice((-1, 1)) * d.rng.randint(10_000, 2_000_000)
    return [d.fault("clock-bump", d.some(), delta_us=delta)]


@family("clock-skew")
def clock_skew(d: Draw) -> list[Fault]:
    return [d.fault("clock-skew", d.some(),
                    ppm=d.rng.choice((-1, 1)) * d.rng.randint(1_000, 200_000))]


@family("clock-strobe")
def clock_strobe(d: Draw) -> list[Fault]:
    return [d.fault("clock-strobe", d.some(), delta_us=d.rng.randint(10_000, 500_000),
                    period_us=d.rng.randint(5_000, 50_000))]


# ---- messages --------------------------------------------------------------------------------

@family("loss", needs="network")
def loss(d: Draw) -> list[Fault]:
    return [d.fault("loss", p=round(d.rng.uniform(0.05, 0.5), 3))]


@family("duplicate", needs="network")
def duplicate(d: Draw) -> list[Fault]:
    return [d.fault("duplicate", p=round(d.rng.uniform(0.05, 0.5), 3))]


@family("delay", needs="network")
def delay(d: Draw) -> list[Fault]:
    return [d.fault("delay", delay_us=d.rng.randint(5_000, 100_000))]


@family("reorder", needs="network")
def reorder(d: Draw) -> list[Fault]:
    return [d.fault("reorder", spread_us=d.rng.randint(5_000, 100_000))]


# ---- membership ------------------------------------------------------------------------------

@family("churn", general=False, needs="churn")
def churn(d: Draw) -> list[Fault]:
    """A join of a spare, or a graceful leave or permanent failure of a member, whichever
    the churn limits allow now (nothing if none is allowed)."""
    limits = d.churn
    choices = []
    if d.spares and d.joins_in_progress() < limits.max_joining:
        choices.append("join")
    removable = d.removable()
    if removable:
        if d.leaves_in_progress() < limits.max_leaving:
            choices.append("leave")
        choices.append("fail")
    if not choices:
        return []
    kind = d.rng.choice(choices)
    if kind == "join":
        return [d.fault("join", (d.rng.choice(sorted(d.spares)),), d.duration(*limits.join_us))]
    if kind == "leave":
        return [d.fault("leave", (d.rng.choice(removable),), d.duration(*limits.handoff_us))]
    return [d.fault("fail", (d.rng.choice(removable),), 0)]


@family("replace", general=False, needs="churn")
def replace(d: Draw) -> list[Fault]:
    """A member fails for good and a spare joins 0-100 ms later, as an operator or an
    autoscaler replaces a dead machine: the join meets the failure's aftermath, successor
    lists and lookups that do not know yet."""
    failing = d.removable()
    if not failing or not d.spares or d.joins_in_progress() >= d.churn.max_joining:
        return []
    dead = d.rng.choice(failing)
    join = d.fault("join", (d.rng.choice(sorted(d.spares)),), d.duration(*d.churn.join_us))
    return [d.fault("fail", (dead,), 0),
            attrs.evolve(join, time=d.t + d.rng.randint(0, 100_000))]
