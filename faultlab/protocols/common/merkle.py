"""Merkle trees for anti-entropy: two replicas compare the hashes of a key range from the
root down and exchange only the keys under leaves that differ.

Keys fall into a fixed number of leaf buckets by their hash, so both sides build the same
shape whatever keys they hold. A leaf hashes its (key, content) pairs; an inner node hashes
its two children. Hashes are BLAKE2b of canonical text: the same in every process.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

LEAVES = 16  # a power of two


def bucket(key) -> int:
    """The leaf a key belongs to."""
    return int.from_bytes(digest(repr(("bucket", key))), "big") % LEAVES


def build(items: Iterable[tuple[object, object]]) -> list[list[bytes]]:
    """The tree over (key, content) pairs, as levels from the leaves up to the root; the
    content must have a canonical repr (tuples, sorted)."""
    leaves: list[list] = [[] for _ in range(LEAVES)]
    for key, content in items:
        leaves[bucket(key)].append((key, content))
    level = [digest(repr(sorted(leaf, key=repr))) for leaf in leaves]
    levels = [level]
    while len(level) > 1:
        level = [digest(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


def root(levels: list[list[bytes]]) -> bytes:
    return levels[-1][0]


def differing_leaves(mine: list[list[bytes]], theirs: list[list[bytes]]) -> list[int]:
    """The leaves whose hashes differ, found by descending only into differing subtrees
    (how many hashes a real exchange would send grows with the differences, not the
    range)."""
    suspects = [0] if mine[-1] != theirs[-1] else []
    for depth in range(len(mine) - 2, -1, -1):
        suspects = [child for i in suspects for child in (2 * i, 2 * i + 1)
                    if mine[depth][child] != theirs[depth][child]]
    return suspects


def digest(text: str | bytes) -> bytes:
    """A short hash of text (or bytes), the same in every process."""
    data = text.encode() if isinstance(text, str) else text
    return hashlib.blake2b(data, digest_size=8).digest()
