"""The result every check returns: valid or not (or unknown), why, and where to look."""
from __future__ import annotations

import dataclasses
from typing import Any

UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True, slots=True)
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
    anomalies: dict[str, Any] = dataclasses.field(default_factory=dict)
    witness: Any = None
    ops: tuple[int, ...] = ()
    time: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "ops", tuple(self.ops))  # any iterable of indices

    @property
    def failed(self) -> bool:
        return self.valid is False

    def to_dict(self) -> dict:
        return {"name": self.name, "valid": self.valid, "explanation": self.explanation,
                "ops": list(self.ops), "time": self.time, "anomalies": self.anomalies,
                "witness": self.witness}


STEPS_SHOWN = 12  # steps of a long cycle written out; the witness keeps them all


def witness_lines(witness, shown: int) -> list[str]:
    """Lines for a witness that explains itself: a list of anomalies, each with a `why`
    or a `cycle` of steps ({from, kind, to, why}); the first `shown` of them."""
    if not isinstance(witness, list):
        return []
    lines = []
    for item in witness[:shown]:
        if not isinstance(item, dict):
            continue
        name = item.get("anomaly", "anomaly")
        steps = item.get("cycle")
        if isinstance(steps, list):
            lines.append(f"{name}:")
            cut = len(steps) > STEPS_SHOWN
            for s in steps[:STEPS_SHOWN - 2] if cut else steps:
                lines.append(f"  {s.get('from')} -{s.get('kind')}-> {s.get('to')}: "
                             f"{s.get('why')}")
            if cut:
                last = steps[-1]
                lines.append(f"  ... {len(steps) - STEPS_SHOWN + 1} more steps ...")
                lines.append(f"  {last.get('from')} -{last.get('kind')}-> "
                             f"{last.get('to')}: {last.get('why')}")
        elif isinstance(item.get("why"), str):
            lines.append(f"{name}: {item['why']}")
    if len(witness) > shown:
        lines.append(f"... and {len(witness) - shown} more")
    return lines
