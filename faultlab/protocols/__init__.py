"""The systems under test, by name. Each is a `Protocol` subclass (see protocols/base.py)."""
from __future__ import annotations

from faultlab.histories.errors import FaultlabError
from faultlab.protocols.base import Protocol
from faultlab.protocols.primary_backup import PrimaryBackup
from faultlab.protocols.raft import Raft

PROTOCOLS: dict[str, type[Protocol]] = {
    PrimaryBackup.name: PrimaryBackup,
    Raft.name: Raft,
}


def get_protocol(name: str) -> Protocol:
    """The protocol registered as `name`, or a one-line error listing the known ones."""
    try:
        return PROTOCOLS[name]()
    except KeyError:
        raise FaultlabError(f"unknown protocol {name!r} (known: {', '.join(sorted(PROTOCOLS))})"
                            ) from None
