"""faultlab's native history format: one JSON object per line, one op per object."""
from __future__ import annotations

from pathlib import Path

import orjson

from faultlab.histories.errors import HistoryError
from faultlab.histories.history import History
from faultlab.histories.op import TYPES, Op

_FIELDS = {"index", "type", "process", "f", "value", "time", "node", "error"}


def op_from_dict(d: dict, index: int, *, path: str | None = None, line: int | None = None) -> Op:
    """Build an Op from a decoded JSON object, naming the bad field on error."""
    if not isinstance(d, dict):
        raise HistoryError("expected a JSON object", path=path, line=line)
    for field in ("type", "process", "f"):
        if field not in d:
            raise HistoryError(f"missing field {field!r}", path=path, line=line)
    if d["type"] not in TYPES:
        raise HistoryError(f"unknown op type {d['type']!r}", path=path, line=line)
    unknown = set(d) - _FIELDS
    if unknown:
        raise HistoryError(f"unknown field {sorted(unknown)[0]!r}", path=path, line=line)
    time = d.get("time")
    if time is not None and not isinstance(time, int):
        raise HistoryError(f"time must be an integer, got {time!r}", path=path, line=line)
    return Op(index=d.get("index", index), type=d["type"], process=d["process"], f=d["f"],
              value=d.get("value"), time=time, node=d.get("node"), error=d.get("error"))


def dumps_history(history: History) -> bytes:
    return b"".join(orjson.dumps(op.to_dict(), option=orjson.OPT_NON_STR_KEYS) + b"\n"
                    for op in history)


def loads_history(data: bytes | str, path: str | None = None) -> History:
    ops = []
    for lineno, raw in enumerate(
            data.splitlines() if isinstance(data, bytes) else data.encode().splitlines(), 1):
        if not raw.strip():
            continue
        try:
            d = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise HistoryError(f"invalid JSON ({e.msg})", path=path, line=lineno) from None
        ops.append(op_from_dict(d, len(ops), path=path, line=lineno))
    return History(ops)


def read_jsonl(path: str | Path) -> History:
    """Read and validate a JSON-lines history file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise HistoryError(f"cannot read file ({e.strerror})", path=str(path)) from None
    return loads_history(data, str(path)).validate(str(path))


def write_jsonl(history: History, path: str | Path) -> None:
    from faultlab.histories.bundle import write_atomic

    write_atomic(Path(path), dumps_history(history))
