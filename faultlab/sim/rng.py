"""Named random streams derived from a run's seed by a stable hash.

Each concern (network, nemesis, workload, each node) draws from its own stream, so changing
the workload never shifts the network's draws; that keeps shrinking and replay stable.
`hash()` is never used: it changes with PYTHONHASHSEED.
"""
from __future__ import annotations

import hashlib
import random


def stream_seed(seed: int, name: str) -> int:
    digest = hashlib.blake2b(f"{seed}/{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def stream(seed: int, name: str) -> random.Random:
    """A private, reproducible random.Random for one named concern of one run."""
    return random.Random(stream_seed(seed, name))
