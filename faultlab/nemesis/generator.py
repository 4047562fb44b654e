"""Seeded schedule generation, with swarm testing: each seed enables a few fault families
(drawn by weight) and an intensity, which finds bugs that an always-everything nemesis hides.

Families are data, not fault kinds: several map to one kind with different targets or
durations. Most take their duration from the config's min/max; the brief ones choose their
own, much shorter, so that they land inside one election or one replication round:

- leader-churn: crash the current leader (losing unsynced writes) for 10-200 ms, so a new
  election starts while the old leader comes back quickly with its old log;
- flicker: crash one random node (losing unsynced writes) for 1-40 ms, e.g. between granting
  a vote and the next candidate's request in the same term;
- leader-flap: isolate the current leader for 20-300 ms, so a new leader is elected and the
  old one returns with entries of its term that no majority holds;
- leader-snipe: wait for the next leader to be elected and, 0-5 ms later, crash or isolate it
  for 20-300 ms: it strikes before the new leader's own entries reach a majority;
- leader-storm: isolate the current leader and then each of the next 3-8 leaders 0-5 ms after
  its election, each for 20-200 ms: a succession of leaders that each leave a different
  uncommitted tail behind, the setting of the paper's Figure 8; half the storms also reorder
  messages for 0.2-0.8 s, so replies of one term arrive in the next;
- crash-cluster: crash every node (losing unsynced writes) and restart all of them after
  10-300 ms: whatever a node answered without persisting is forgotten by everyone at once.

A config may repeat a family in `families` to weight it (the draw is by position).
"""
from __future__ import annotations

import random

import attrs

from faultlab.histories.errors import FaultlabError
from faultlab.nemesis.faults import LEADER, ROLE_PREFIX, Fault
from faultlab.nemesis.schedule import Schedule
from faultlab.sim.rng import stream

# Families the generator draws from; several map to one fault kind with different targets.
FAMILIES = (
    "partition-halves", "partition-isolate", "partition-ring", "partition-bridge",
    "partition-one-way", "isolate-role", "kill", "kill-role", "lose-unsynced", "pause",
    "clock-bump", "clock-skew", "clock-strobe", "loss", "duplicate", "delay", "reorder",
    "leader-churn", "flicker", "leader-flap", "crash-cluster", "leader-snipe",
    "leader-storm",
)
# what an empty `families` means: every family but the brief ones (opted into by name)
GENERAL_FAMILIES = FAMILIES[:-6]
_ROLE_FAMILIES = ("isolate-role", "kill-role", "leader-churn", "leader-flap", "leader-snipe",
                  "leader-storm")
SWARM_MAX = 4  # families per seed under swarm (measured: fewer finds election bugs sooner)
# family -> (min, max) duration in microseconds, instead of the config's
BRIEF_DURATIONS = {"leader-churn": (10_000, 200_000), "flicker": (1_000, 40_000),
                   "leader-flap": (20_000, 300_000), "crash-cluster": (10_000, 300_000),
                   "leader-snipe": (20_000, 300_000), "leader-storm": (20_000, 200_000)}


@attrs.frozen
class NemesisConfig:
    """How a seed's schedule is generated. `families` empty means GENERAL_FAMILIES; `swarm`
    picks a random non-empty subset per seed. `interval_us` is the mean gap between faults."""

    families: tuple[str, ...] = ()
    swarm: bool = True
    interval_us: int = 400_000
    min_duration_us: int = 100_000
    max_duration_us: int = 1_000_000

    def __attrs_post_init__(self) -> None:
        for fam in self.families:
            if fam not in FAMILIES:
                raise FaultlabError(f"unknown fault family {fam!r} "
                                    f"(known: {', '.join(FAMILIES)})")
        if self.interval_us <= 0 or not 0 < self.min_duration_us <= self.max_duration_us:
            raise FaultlabError("nemesis interval must be positive and "
                                "0 < min duration <= max duration")

    def to_dict(self) -> dict:
        d = attrs.asdict(self)
        d["families"] = list(self.families)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> NemesisConfig:
        d = dict(d)
        d["families"] = tuple(d.get("families", ()))
        return cls(**d)


def enabled_families(config: NemesisConfig, roles: tuple[str, ...],
                     rng: random.Random) -> list[str]:
    """The families a seed draws from: all of them, or under swarm 1 to SWARM_MAX draws by
    weight, so a seed concentrates on a few kinds of trouble instead of diluting each."""
    allowed = [f for f in (config.families or GENERAL_FAMILIES)
               if roles or f not in _ROLE_FAMILIES]
    if not config.swarm or len(allowed) <= 1:
        return allowed
    chosen = {rng.choice(allowed) for _ in range(rng.randint(1, SWARM_MAX))}
    return [f for f in dict.fromkeys(allowed) if f in chosen]


def generate_schedule(config: NemesisConfig, names: tuple[str, ...], roles: tuple[str, ...],
                      seed: int, heal_at: int) -> Schedule:
    """Faults between time 0 and `heal_at`; every fault ends by then (the heal phase)."""
    rng = stream(seed, "nemesis")
    families = enabled_families(config, roles, rng)
    intensity = rng.choice((0.5, 1.0, 2.0)) if config.swarm else 1.0
    faults = []
    t = int(rng.expovariate(intensity / config.interval_us))
    while families and t < heal_at - config.min_duration_us:
        fam = rng.choice(families)
        lo, hi = BRIEF_DURATIONS.get(fam, (config.min_duration_us, config.max_duration_us))
        duration = min(rng.randint(lo, hi), heal_at - t)
        if fam == "leader-storm":
            faults.extend(_storm(t, lo, hi, heal_at, rng))
        else:
            faults.append(_fault(fam, t, duration, names, roles, rng))
        t += 1 + int(rng.expovariate(intensity / config.interval_us))
    return Schedule(faults)


def _storm(t: int, lo: int, hi: int, heal_at: int, rng: random.Random) -> list[Fault]:
    """The current leader and the next 3-8 leaders, each isolated soon after its election,
    sometimes under message reordering."""
    role = (LEADER,)
    faults = [Fault(t, "partition", min(rng.randint(lo, hi), heal_at - t), role,
                    {"mode": "isolate"})]
    for k in range(1, rng.randint(4, 9)):
        faults.append(Fault(t, "partition", min(rng.randint(lo, hi), heal_at - t), role,
                            {"mode": "isolate", "on_election": rng.randint(0, 5_000),
                             "elections": k}))
    if rng.random() < 0.5:  # replies from one term arriving in the next
        faults.append(Fault(t, "reorder", min(rng.randint(200_000, 800_000), heal_at - t), (),
                            {"spread_us": rng.randint(5_000, 100_000)}))
    return faults


def _fault(family: str, t: int, duration: int, names: tuple[str, ...],
           roles: tuple[str, ...], rng: random.Random) -> Fault:
    nodes = list(names)
    one = (rng.choice(nodes),)
    some = tuple(sorted(rng.sample(nodes, rng.randint(1, max(1, len(nodes) // 2)))))
    role = (ROLE_PREFIX + roles[0],) if roles else one
    if family.startswith("partition-"):
        mode = family[len("partition-"):]
        if mode in ("ring", "bridge"):
            targets = tuple(rng.sample(nodes, len(nodes)))  # an order, not a subset
        elif mode == "isolate":
            targets = one
        else:
            targets = some
        return Fault(t, "partition", duration, targets, {"mode": mode})
    if family in ("isolate-role", "leader-flap"):
        return Fault(t, "partition", duration, role, {"mode": "isolate"})
    if family in ("kill", "kill-role", "lose-unsynced"):
        targets = role if family == "kill-role" else some
        return Fault(t, "kill", duration, targets, {"lose_unsynced": family == "lose-unsynced"})
    if family in ("leader-churn", "flicker", "crash-cluster"):
        targets = role if family == "leader-churn" else one if family == "flicker" else names
        return Fault(t, "kill", duration, targets, {"lose_unsynced": True})
    if family == "leader-snipe":
        on_election = rng.randint(0, 5_000)
        if rng.random() < 0.5:
            return Fault(t, "kill", duration, (LEADER,), {"on_election": on_election})
        return Fault(t, "partition", duration, (LEADER,), {"mode": "isolate",
                                                           "on_election": on_election})
    if family == "pause":
        return Fault(t, "pause", duration, some)
    if family == "clock-bump":
        delta = rng.choice((-1, 1)) * rng.randint(10_000, 2_000_000)
        return Fault(t, "clock-bump", duration, some, {"delta_us": delta})
    if family == "clock-skew":
        return Fault(t, "clock-skew", duration, some,
                     {"ppm": rng.choice((-1, 1)) * rng.randint(1_000, 200_000)})
    if family == "clock-strobe":
        return Fault(t, "clock-strobe", duration, some,
                     {"delta_us": rng.randint(10_000, 500_000),
                      "period_us": rng.randint(5_000, 50_000)})
    if family == "loss":
        return Fault(t, "loss", duration, (), {"p": round(rng.uniform(0.05, 0.5), 3)})
    if family == "duplicate":
        return Fault(t, "duplicate", duration, (), {"p": round(rng.uniform(0.05, 0.5), 3)})
    if family == "delay":
        return Fault(t, "delay", duration, (), {"delay_us": rng.randint(5_000, 100_000)})
    return Fault(t, "reorder", duration, (), {"spread_us": rng.randint(5_000, 100_000)})
