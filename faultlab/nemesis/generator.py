"""Seeded schedule generation, with swarm testing: each seed enables a few fault families
(drawn by weight) and an intensity, which finds bugs that an always-everything nemesis hides.

The generator sweeps time from 0 to the heal, drawing one family at a time; it follows the
membership its own churn faults make, so later faults strike current members only, and it
never targets an exempt node. A config may repeat a family in `families` to weight it.
"""
from __future__ import annotations

import random

import attrs

from faultlab.errors import FaultlabError
from faultlab.nemesis.families import FAMILIES, ChurnLimits, Draw
from faultlab.nemesis.schedule import Schedule
from faultlab.sim.rng import stream

SWARM_MAX = 4  # families per seed under swarm (measured: fewer finds election bugs sooner)
MAX_INTERVAL_US = 3_600_000_000


def general_families() -> tuple[str, ...]:
    """What an empty `families` means: every family but those a protocol opts into."""
    return tuple(name for name, fam in FAMILIES.items() if fam.general)


@attrs.frozen
class NemesisConfig:
    """How a seed's schedule is generated. `families` empty means the general families;
    `swarm` picks a random non-empty subset per seed. `interval_us` is the mean gap between
    faults."""

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
        for name in ("interval_us", "min_duration_us", "max_duration_us"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) \
                    or not 0 < value <= MAX_INTERVAL_US:
                raise FaultlabError(f"nemesis {name} must be an integer from 1 to "
                                    f"{MAX_INTERVAL_US}, got {value!r}")
        if self.min_duration_us > self.max_duration_us:
            raise FaultlabError("nemesis min_duration_us must not exceed max_duration_us")
        if not isinstance(self.swarm, bool):
            raise FaultlabError(f"nemesis swarm must be true or false, got {self.swarm!r}")

    def to_dict(self) -> dict:
        d = attrs.asdict(self)
        d["families"] = list(self.families)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> NemesisConfig:
        if not isinstance(d, dict):
            raise FaultlabError(f"nemesis must be an object, got {d!r}")
        unknown = sorted(set(d) - {f.name for f in attrs.fields(cls)})
        if unknown:
            raise FaultlabError(f"nemesis has unknown field {unknown[0]!r}")
        d = dict(d)
        families = d.get("families", ())
        if not isinstance(families, (list, tuple)) or not all(isinstance(f, str)
                                                              for f in families):
            raise FaultlabError(f"nemesis families must be a list of names, got {families!r}")
        d["families"] = tuple(families)
        return cls(**d)


@attrs.frozen
class Target:
    """What the nemesis may aim at: the node slots, the initial members, the exempt slots,
    and what the protocol offers (roles, announced events, churn limits)."""

    slots: tuple[str, ...]
    members: tuple[str, ...]
    exempt: frozenset[str] = frozenset()
    roles: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    churn: ChurnLimits | None = None

    def draw(self, rng: random.Random, config: NemesisConfig, heal_at: int) -> Draw:
        return Draw(rng, heal_at, (config.min_duration_us, config.max_duration_us), self.slots,
                    self.members, self.exempt, self.roles, self.events, self.churn)

    def refuse(self, families: tuple[str, ...]) -> None:
        """A one-line error if a named family cannot strike this target."""
        draw = self.draw(random.Random(0), NemesisConfig(), 1)
        for name in families:
            why = FAMILIES[name].missing(draw)
            if why:
                raise FaultlabError(f"fault family {name!r} cannot be used here: {why}")


def enabled_families(config: NemesisConfig, draw: Draw, rng: random.Random) -> list[str]:
    """The families a seed draws from: all that apply, or under swarm 1 to SWARM_MAX draws
    by weight, so a seed concentrates on a few kinds of trouble instead of diluting each."""
    allowed = [f for f in (config.families or general_families())
               if FAMILIES[f].missing(draw) is None]
    if not config.swarm or len(allowed) <= 1:
        return allowed
    chosen = {rng.choice(allowed) for _ in range(rng.randint(1, SWARM_MAX))}
    return [f for f in dict.fromkeys(allowed) if f in chosen]


def generate_schedule(config: NemesisConfig, target: Target, seed: int,
                      heal_at: int) -> Schedule:
    """Faults between time 0 and `heal_at`; every fault ends by then (the heal phase)."""
    rng = stream(seed, "nemesis")
    draw = target.draw(rng, config, heal_at)
    families = enabled_families(config, draw, rng)
    intensity = rng.choice((0.5, 1.0, 2.0)) if config.swarm else 1.0
    faults = []
    t = int(rng.expovariate(intensity / config.interval_us))
    while families and t < heal_at - config.min_duration_us:
        fam = FAMILIES[rng.choice(families)]
        draw.t = t
        if fam.missing(draw) is None:  # membership may have changed what applies
            for fault in fam.draw(draw):
                draw.note(fault)
                faults.append(fault)
        t += 1 + int(rng.expovariate(intensity / config.interval_us))
    return Schedule(faults)
