"""The simulated network's fault settings: blocked links, loss, duplication, delay, jitter.

Links are directed, so a one-way partition blocks (a, b) but not (b, a). Overlapping
partitions are counted per link, so healing one never reopens a link another still cuts.
"""
from __future__ import annotations

import attrs


@attrs.frozen
class NetworkConfig:
    """Fault-free behaviour: every message takes base + an exponential spread."""

    base_latency_us: int = 500
    spread_us: int = 500


class Network:
    __slots__ = ("config", "blocked", "loss", "duplicate", "latency_us", "spread_us")

    def __init__(self, config: NetworkConfig) -> None:
        self.config = config
        self.blocked: dict[tuple[str, str], int] = {}
        self.loss = 0.0
        self.duplicate = 0.0
        self.latency_us = config.base_latency_us  # base plus any delay fault
        self.spread_us = config.spread_us         # a large spread reorders messages

    def set_delay(self, extra_delay_us: int, extra_spread_us: int) -> None:
        """Slow every message by `extra_delay_us` and widen its spread (reordering)."""
        self.latency_us = self.config.base_latency_us + extra_delay_us
        self.spread_us = self.config.spread_us + extra_spread_us

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
        self.loss = self.duplicate = 0.0
        self.set_delay(0, 0)
