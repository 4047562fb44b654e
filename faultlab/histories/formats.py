"""Readers for the history files people bring: Jepsen, Knossos, Porcupine and our JSON lines.

`load_history(path)` detects the format from the first non-blank line. Every reader returns a
validated `History` whose ops are in file order with `index` = position; files without times
get the line number as time. Bad input raises HistoryError naming file, line and problem.
"""
from __future__ import annotations

import re
from pathlib import Path

from faultlab.histories import edn
from faultlab.histories.errors import HistoryError
from faultlab.histories.history import History
from faultlab.histories.jsonl import loads_history
from faultlab.histories.op import FAIL, INFO, INVOKE, OK, TYPES, Op

FORMATS = ("auto", "jepsen-edn", "knossos-edn", "etcd-log", "kv-log", "jsonl")

_ETCD_LINE = re.compile(r"\s*INFO\s+jepsen\.util\s+-\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*?)\s*\Z")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HistoryError("no such file", path=str(path)) from None
    except IsADirectoryError:
        raise HistoryError("is a directory, expected a history file", path=str(path)) from None
    except UnicodeDecodeError:
        raise HistoryError("not a UTF-8 text file", path=str(path)) from None
    except OSError as e:
        raise HistoryError(f"cannot read file ({e.strerror})", path=str(path)) from None


def detect_format(text: str, path: str | None = None) -> str:
    """Name the format of a history from its first non-blank, non-comment line."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if _ETCD_LINE.match(line):
            return "etcd-log"
        if line.startswith(("[", "(")):
            return "knossos-edn"
        if line.startswith("{"):
            rest = line[1:].lstrip()
            if rest.startswith(('"', "}")):
                return "jsonl"
            if ":key" in line and ":process" in line:
                return "kv-log"
            return "jepsen-edn"
        raise HistoryError(f"cannot tell the history format from {line[:40]!r}; "
                           "pass --format", path=path, line=1)
    raise HistoryError("empty history file", path=path)


def _plain(x):
    """EDN keywords in values stay Keyword (a str); vectors and lists become lists."""
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {str(k) if isinstance(k, str) else k: _plain(v) for k, v in x.items()}
    if isinstance(x, frozenset):
        return sorted((_plain(v) for v in x), key=repr)
    return x


def _op_from_map(d, index: int, line: int, path: str | None) -> Op | None:
    """A Jepsen op map as an Op; None for nemesis ops, which are not client operations."""
    if not isinstance(d, dict):
        raise HistoryError(f"expected an op map, got {edn.dumps(d)[:40]}", path=path, line=line)
    for field in ("type", "process", "f"):
        if field not in d:
            raise HistoryError(f"op map is missing :{field}", path=path, line=line)
    process = d["process"]
    if isinstance(process, edn.Keyword):
        return None  # :nemesis and friends: Jepsen's checkers skip them too
    if not isinstance(process, int) or isinstance(process, bool):
        raise HistoryError(f":process must be an integer, got {edn.dumps(process)}",
                           path=path, line=line)
    kind = d["type"]
    if not isinstance(kind, str) or str(kind) not in TYPES:
        raise HistoryError(f"unknown :type {edn.dumps(kind)}", path=path, line=line)
    f = d["f"]
    if not isinstance(f, str):
        raise HistoryError(f":f must be a keyword, got {edn.dumps(f)}", path=path, line=line)
    time = d.get("time", line)
    if not isinstance(time, int) or isinstance(time, bool):
        raise HistoryError(f":time must be an integer, got {edn.dumps(time)}",
                           path=path, line=line)
    return Op(index=index, type=str(kind), process=process, f=str(f),
              value=_plain(d.get("value")), time=time,
              node=_plain(d.get("node")), error=_plain(d.get("error")))


def _validated(ops: list[Op], lines: list[int], path: str | None) -> History:
    """Validate process rules, reporting the file line (not the op index) of a bad op."""
    try:
        return History(ops).validate()
    except HistoryError as e:
        bad = re.match(r"op (\d+):", e.problem)
        line = lines[int(bad.group(1))] if bad else None
        raise HistoryError(e.problem, path=path, line=line) from None


def parse_jepsen_edn(text: str, path: str | None = None) -> History:
    """Jepsen's history.edn: one op map per line (blank lines and comments allowed)."""
    ops, lines = [], []
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith(";"):
            continue
        d = edn.loads(raw, path=path, line=lineno)
        op = _op_from_map(d, len(ops), lineno, path)
        if op is not None:
            ops.append(op)
            lines.append(lineno)
    return _validated(ops, lines, path)


def parse_knossos_edn(text: str, path: str | None = None) -> History:
    """A Knossos-style history: one EDN vector (or list) of op maps, possibly many lines."""
    forms = edn.loads_all(text, path=path)
    if len(forms) != 1 or not isinstance(forms[0][1], list):
        line = forms[1][0] if len(forms) > 1 else 1
        raise HistoryError("expected a single EDN vector of op maps", path=path, line=line)
    # Find each map's line by re-reading element by element; the reader tracks lines.
    reader = edn._Reader(text, path, 1)
    reader.skip_ws()
    reader.pos += 1  # the opening [ or (
    ops, lines = [], []
    for position, d in enumerate(forms[0][1]):
        reader.skip_ws()
        while reader.text.startswith("#_", reader.pos):
            reader.pos += 2
            reader.read()
            reader.skip_ws()
        lineno = reader.line
        reader.read()
        op = _op_from_map(d, len(ops), lineno, path)
        if op is not None:
            if "time" not in d:
                op = Op(op.index, op.type, op.process, op.f, op.value, position, op.node,
                        op.error)
            ops.append(op)
            lines.append(lineno)
    return _validated(ops, lines, path)


def parse_etcd_log(text: str, path: str | None = None) -> History:
    """Porcupine/Jepsen etcd logs: `INFO  jepsen.util - 3 :ok :read 2`; time is the line."""
    ops, lines = [], []
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        m = _ETCD_LINE.match(raw)
        if m is None:
            raise HistoryError("expected 'INFO  jepsen.util - <process> <type> <f> <value>'",
                               path=path, line=lineno)
        process_s, kind_s, f_s, value_s = m.groups()
        try:
            process = int(process_s)
        except ValueError:
            raise HistoryError(f"process must be an integer, got {process_s!r}",
                               path=path, line=lineno) from None
        kind, f = kind_s.lstrip(":"), f_s.lstrip(":")
        if not kind_s.startswith(":") or kind not in TYPES:
            raise HistoryError(f"unknown type {kind_s!r}", path=path, line=lineno)
        if f not in ("read", "write", "cas"):
            raise HistoryError(f"unknown f {f_s!r} (expected :read, :write or :cas)",
                               path=path, line=lineno)
        value = edn.loads(value_s, path=path, line=lineno) if value_s else None
        error = None
        if isinstance(value, edn.Keyword):  # :timed-out and similar: an error, not a value
            value, error = None, value
        if f == "cas" and kind == INVOKE and not (isinstance(value, list) and len(value) == 2):
            raise HistoryError(f"a :cas takes [from to], got {value_s!r}",
                               path=path, line=lineno)
        ops.append(Op(index=len(ops), type=kind, process=process, f=f, value=value,
                      time=lineno, error=error))
        lines.append(lineno)
    ops = _carry_invoke_values(ops)
    return _validated(ops, lines, path)


def _carry_invoke_values(ops: list[Op]) -> list[Op]:
    """Completions of writes and CAS repeat their invoke's value (logs write `:timed-out`)."""
    open_invoke: dict = {}
    out = []
    for op in ops:
        if op.type == INVOKE:
            open_invoke[op.process] = op
        else:
            inv = open_invoke.pop(op.process, None)
            if inv is not None and op.f != "read" and op.type in (OK, FAIL, INFO):
                op = Op(op.index, op.type, op.process, op.f, inv.value, op.time, op.node,
                        op.error)
        out.append(op)
    return out


def parse_kv_log(text: str, path: str | None = None) -> History:
    """Porcupine kv logs: `{:process 9, :type :invoke, :f :append, :key "0", :value "x"}`.

    Ops become Jepsen `independent` style: value = [key, value].
    """
    ops, lines = [], []
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        d = edn.loads(raw, path=path, line=lineno)
        if not isinstance(d, dict) or "key" not in d:
            raise HistoryError("expected an op map with a :key", path=path, line=lineno)
        if d.get("f") not in ("get", "put", "append"):
            raise HistoryError(f"unknown :f {edn.dumps(d.get('f'))} "
                               "(expected :get, :put or :append)", path=path, line=lineno)
        d = dict(d)
        d["value"] = [_plain(d.pop("key")), d.get("value")]
        op = _op_from_map(d, len(ops), lineno, path)
        if op is not None:
            ops.append(op)
            lines.append(lineno)
    return _validated(ops, lines, path)


def parse_jsonl(text: str, path: str | None = None) -> History:
    """faultlab's native JSON lines."""
    return loads_history(text.encode(), path).validate(path)


_PARSERS = {
    "jepsen-edn": parse_jepsen_edn,
    "knossos-edn": parse_knossos_edn,
    "etcd-log": parse_etcd_log,
    "kv-log": parse_kv_log,
    "jsonl": parse_jsonl,
}


def parse_history(text: str, format: str = "auto", path: str | None = None) -> History:
    """Parse history text in the named format (or detect it)."""
    if format == "auto":
        if not text.strip():
            return History([])  # an empty history is trivially valid in every format
        format = detect_format(text, path)
    if format not in _PARSERS:
        raise HistoryError(f"unknown history format {format!r}; "
                           f"choose from {', '.join(FORMATS)}", path=path)
    return _PARSERS[format](text, path)


def load_history(path: str | Path, format: str = "auto") -> History:
    """Read a history file in any supported format; `auto` detects it from the content."""
    path = Path(path)
    return parse_history(_read_text(path), format, str(path))


def write_jepsen_edn(history: History, path: str | Path) -> None:
    """Write a history in Jepsen's history.edn shape (atomically)."""
    from faultlab.histories.bundle import write_atomic

    write_atomic(Path(path), edn.dumps_history(history).encode())
