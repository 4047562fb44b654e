"""The systems under test, by name. Each is a `Protocol` subclass (see protocols/base.py),
imported only when asked for: checking a history or listing faults loads none of them."""
from __future__ import annotations

import importlib

from faultlab.errors import FaultlabError

# name -> "module:Class" of its declaration (or the class itself, as tests register one)
PROTOCOLS: dict[str, str] = {
    "primary-backup": "faultlab.protocols.primary_backup.protocol:PrimaryBackup",
    "raft": "faultlab.protocols.raft.protocol:Raft",
    "chord": "faultlab.protocols.chord.protocol:Chord",
    "twopc": "faultlab.protocols.twopc.protocol:TwoPhaseCommit",
    "dynamo": "faultlab.protocols.dynamo.protocol:Dynamo",
    "rdd": "faultlab.protocols.rdd.protocol:Rdd",
}


def get_protocol(name: str):
    """A fresh instance of the protocol registered as `name`, or a one-line error listing
    the known ones."""
    if not isinstance(name, str) or name not in PROTOCOLS:
        raise FaultlabError(f"unknown protocol {name!r} (known: {', '.join(sorted(PROTOCOLS))})")
    target = PROTOCOLS[name]
    if isinstance(target, str):
        module, _, cls = target.partition(":")
        target = getattr(importlib.import_module(module), cls)
    return target()
