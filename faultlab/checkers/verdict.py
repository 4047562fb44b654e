"""The result every check returns: valid or not (or unknown), why, and a witness."""
from __future__ import annotations

from typing import Any

import attrs

UNKNOWN = "unknown"


@attrs.frozen
class Verdict:
    """A check's judgement of one history or run.

    `valid` is True, False or "unknown" (budget exhausted). `anomalies` is plain data (JSON
    serialisable) naming what went wrong; `witness` is the smallest failing piece the check can
    point to (ops, a trace excerpt); `explanation` is a short sentence for humans.
    """

    name: str
    valid: bool | str
    explanation: str = ""
    anomalies: dict[str, Any] = attrs.field(factory=dict)
    witness: Any = None

    @property
    def failed(self) -> bool:
        return self.valid is False

    def to_dict(self) -> dict:
        return {"name": self.name, "valid": self.valid, "explanation": self.explanation,
                "anomalies": self.anomalies, "witness": self.witness}
