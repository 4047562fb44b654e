"""The one seam through which every nondeterministic kernel decision passes.

Simulation draws from the network stream (`RandomChooser`). Exhaustive exploration can swap
in a chooser that enumerates alternatives and replays prefixes, without touching the kernel.
"""
from __future__ import annotations

import abc
import random
from math import log


class Chooser(abc.ABC):
    """Decides message latency and whether a message is lost or duplicated."""

    @abc.abstractmethod
    def latency(self, base_us: int, spread_us: int) -> int:
        """Latency of one message: at least `base_us`, with about `spread_us` of variation."""

    @abc.abstractmethod
    def chance(self, p: float) -> bool:
        """True with probability p (loss, duplication)."""


class RandomChooser(Chooser):
    __slots__ = ("_random",)

    def __init__(self, rng: random.Random) -> None:
        self._random = rng.random

    def latency(self, base_us: int, spread_us: int) -> int:
        # Exponential spread, inlined (random.expovariate costs a call more per message).
        return base_us + int(-log(1.0 - self._random()) * spread_us)

    def chance(self, p: float) -> bool:
        return p > 0.0 and self._random() < p
