"""The result every check returns: valid or not (or unknown), why, and where to look."""
from __future__ import annotations

from typing import Any

import attrs

UNKNOWN = "unknown"


@attrs.frozen
class Verdict:
    """A check's judgement of one history or run.

    `valid` is True, False or "unknown" (budget exhausted). `explanation` is a short sentence
    for humans. `ops` are the indices of the history ops the verdict is about and `time` when
    things went wrong (simulated microseconds), so a report can show them without knowing the
    check. `anomalies` is plain data (JSON serialisable) in the check's own terms; `witness`
    is the smallest failing piece it can point to.
    """

    name: str
    valid: bool | str
    explanation: str = ""
    anomalies: dict[str, Any] = attrs.field(factory=dict)
    witness: Any = None
    ops: tuple[int, ...] = attrs.field(default=(), converter=tuple)
    time: int | None = None

    @property
    def failed(self) -> bool:
        return self.valid is False

    def to_dict(self) -> dict:
        return {"name": self.name, "valid": self.valid, "explanation": self.explanation,
                "ops": list(self.ops), "time": self.time, "anomalies": self.anomalies,
                "witness": self.witness}
