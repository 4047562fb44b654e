"""The simulated network's fault settings: blocked links, loss, duplication, delay, jitter.

Links are directed, so a one-way partition blocks (a, b) but not (b, a). Overlapping
partitions are counted per link, so healing one never reopens a link another still cuts.
Message faults (loss, duplication, delay, reordering) never touch a link to or from an exempt
node: the nemesis leaves those nodes alone.
"""
from __future__ import annotations

import attrs

from faultlab.errors import FaultlabError

MAX_LATENCY_US = 60_000_000  # a minute per message: anything slower is a mistake


@attrs.frozen
class NetworkConfig:
    """Fault-free behaviour: every message takes base + an exponential spread."""

    base_latency_us: int = 500
    spread_us: int = 500

    def __attrs_post_init__(self) -> None:
        for name in ("base_latency_us", "spread_us"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) \
                    or not 0 <= value <= MAX_LATENCY_US:
                raise FaultlabError(f"network {name} must be an integer from 0 to "
                                    f"{MAX_LATENCY_US}, got {value!r}")


class Network:
    __slots__ = ("config", "blocked", "exempt", "degraded", "loss", "duplicate", "latency_us",
                 "spread_us")

    def __init__(self, config: NetworkConfig, exempt: frozenset[str] = frozenset()) -> None:
        self.config = config
        self.blocked: dict[tuple[str, str], int] = {}
        self.exempt = exempt
        self.degraded = False  # any message fault on: the kernel takes its slower send path
        self.loss = 0.0
        self.duplicate = 0.0
        self.latency_us = config.base_latency_us  # base plus any delay fault
        self.spread_us = config.spread_us         # a large spread reorders messages

    def set_faults(self, loss: float = 0.0, duplicate: float = 0.0, delay_us: int = 0,
                   extra_spread_us: int = 0) -> None:
        """Lose and duplicate messages with these probabilities, slow every message by
        `delay_us` and widen its spread by `extra_spread_us` (which reorders messages)."""
        self.loss = loss
        self.duplicate = duplicate
        self.latency_us = self.config.base_latency_us + delay_us
        self.spread_us = self.config.spread_us + extra_spread_us
        self.degraded = bool(loss or duplicate or delay_us or extra_spread_us)

    def block(self, links) -> None:
        for link in links:
            self.blocked[link] = self.blocked.get(link, 0) + 1

    def unblock(self, links) -> None:
        for link in links:
            n = self.blocked.get(link, 0) - 1
            if n > 0:
                self.blocked[link] = n
            else:
                self.blocked.pop(link, None)

    def heal(self) -> None:
        """Every link open and every message fault off."""
        self.blocked.clear()
        self.set_faults()
