"""One history record: a client operation's invocation or completion, with Jepsen semantics."""
from __future__ import annotations

from typing import Any, NamedTuple

INVOKE, OK, FAIL, INFO = "invoke", "ok", "fail", "info"
TYPES = (INVOKE, OK, FAIL, INFO)


class Op(NamedTuple):
    """An event of a client process (a named tuple: long histories hold millions).

    `type` is invoke, ok (it happened), fail (it certainly did not happen) or info (unknown:
    it may take effect at any later time, or never). `time` is an integer (microseconds for
    simulated runs, whatever the source used for loaded histories), or None when unknown.
    """

    index: int
    type: str
    process: int | str
    f: str
    value: Any = None
    time: int | None = None
    node: str | None = None
    error: Any = None

    def to_dict(self) -> dict:
        d = {"index": self.index, "type": self.type, "process": self.process, "f": self.f,
             "value": self.value}
        if self.time is not None:
            d["time"] = self.time
        if self.node is not None:
            d["node"] = self.node
        if self.error is not None:
            d["error"] = self.error
        return d
