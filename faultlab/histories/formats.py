"""Readers for the history files people bring: Jepsen's history.edn, history.txt and log
output, Knossos vectors, Porcupine's logs, JSON documents and our JSON lines.

`read_history(path)` detects the format, reads line-based files as a stream, and returns the
history with the format it saw and any warnings. Ops keep the file's own `:index`, or their
line number when the file has none, so explanations point into the file. Non-client ops
(`:process :nemesis`) are skipped, as Jepsen's checkers skip them; a lone `:info` completion
is dropped with a warning, as Knossos drops it, and a lone `:ok` or `:fail` is an error, as in
Jepsen. Bad input raises HistoryError naming file, line and problem.
"""
from __future__ import annotations

import itertools
import json
import operator
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import orjson

from faultlab.gc_pause import gc_paused
from faultlab.histories import edn
from faultlab.histories.errors import HistoryError
from faultlab.histories.history import History
from faultlab.histories.op import INFO, INVOKE, OK, TYPES, Op

FORMATS = ("auto", "jepsen-edn", "knossos-edn", "history-txt", "jepsen-log", "etcd-log",
           "kv-log", "jsonl", "json")
DETECT_LINES = 2_000  # how far detection looks for the first Jepsen log line of an op

# `<process> <type> <f> <value> [<error>]`, tab-separated by Jepsen (spaces are accepted):
# history.txt rows, and what follows "jepsen.util - " in a Jepsen log line.
_ROW = re.compile(r"\s*(\S+)\s+(:\S+)\s+(:\S+)(?:\s+(.*?))?\s*\Z")
_LOG_LINE = re.compile(r".*?\bjepsen\.util\b\s*(?:-|:)?\s+(\S+\s+:\S+\s+:\S+(?:\s.*)?)\Z")
# The common shapes of an op line, read without the general readers: (process, type, f,
# value), two empty groups where an EDN line has time and index, and the error column.
_SIMPLE = (r"(\d++)[ \t]++:(invoke|ok|fail|info)[ \t]++:(" + edn.NAME_PATTERN + r")[ \t]++("
           + edn.VALUE_PATTERN + r")()()(?:[ \t]++(" + edn.VALUE_PATTERN + r"))?")
_COMMON_LOG = r"INFO[ \t]+jepsen\.util[ \t]+-[ \t]+" + _SIMPLE
# Porcupine's kv log line, strings without escapes; the value group holds key and value.
_COMMON_KV = (r'\{:process (\d+), :type :(invoke|ok|fail|info), :f :(get|put|append), '
              r':key ("[^"\\\n]*", :value (?:nil|"[^"\\\n]*"))\}()()()')
_TAGGED_MAP = re.compile(r"\s*#[\w.\-]+(?=\s*\{)")


class LoadedHistory(NamedTuple):
    """A history read from a file, with the format it was read as and what to warn about."""

    history: History
    format: str
    warnings: tuple[str, ...] = ()
    lines: tuple[int, ...] = ()  # the line each op was read from, where the format has lines


# ---- entry points ------------------------------------------------------------------------

class ReadTimeout(Exception):
    """Reading a history took past its deadline (the check's time limit covers reading)."""


def read_history(path: str | os.PathLike, format: str = "auto", *,
                 deadline: float | None = None) -> LoadedHistory:
    """Read a history file; `auto` detects the format from its content. Past `deadline`
    (time.monotonic) it raises ReadTimeout."""
    _check_format(format)
    where = os.fspath(path)
    try:
        f = open(where, "rb")  # noqa: SIM115 (closed by the `with` below; errors told apart)
    except FileNotFoundError:
        raise HistoryError("no such file", path=where) from None
    except IsADirectoryError:
        raise HistoryError("is a directory, expected a history file", path=where) from None
    except OSError as e:
        raise HistoryError(f"cannot read file ({e.strerror})", path=where) from None
    with f, gc_paused():
        try:
            return _read_blocks(_blocks(f, where, deadline), format, where, deadline)
        except OSError as e:
            raise HistoryError(f"cannot read file ({e.strerror})", path=where) from None


def load_history(path: str | os.PathLike, format: str = "auto") -> History:
    """Read a history file in any supported format; `auto` detects it from the content."""
    return read_history(path, format).history


def parse_history(text: str, format: str = "auto", path: str | None = None) -> History:
    """Parse history text in the named format (or detect it)."""
    _check_format(format)
    return _read_blocks(iter([(1, text)]), format, path).history


def detect_format(text: str, path: str | None = None) -> str:
    """Name the format of history text from its first lines."""
    return _detect(list(itertools.islice(_numbered(1, text), DETECT_LINES)), path)


def write_jepsen_edn(history: History, path: str | os.PathLike) -> None:
    """Write a history in Jepsen's history.edn shape (atomically)."""
    from pathlib import Path

    from faultlab.histories.bundle import write_atomic

    write_atomic(Path(path), edn.dumps_history(history).encode())


# ---- reading -----------------------------------------------------------------------------

def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise HistoryError(f"unknown history format {format!r}; "
                           f"choose from {', '.join(FORMATS)}")


BLOCK_BYTES = 1 << 20  # a file is read in blocks of whole lines of about this size


def _blocks(f, path: str, deadline: float | None) -> Iterator[tuple[int, str]]:
    """(number of its first line, text) for blocks of whole lines of a binary file, naming
    a line that is not UTF-8, and stopping at the deadline."""
    lineno = 1
    rest: list[bytes] = []  # a line not yet ended, in pieces: one line may be a whole file
    while True:
        if deadline is not None and time.monotonic() > deadline:
            raise ReadTimeout(f"the time limit ran out reading line {lineno}")
        data = f.read(BLOCK_BYTES)
        if not data:
            break
        cut = data.rfind(b"\n") + 1  # a newline byte is never inside a UTF-8 character
        if not cut:
            rest.append(data)
            continue
        raw = b"".join([*rest, data[:cut]])
        rest = [data[cut:]]
        yield lineno, _decode(raw, path, lineno)
        lineno += raw.count(b"\n")
    if any(rest):
        yield lineno, _decode(b"".join(rest), path, lineno)


def _decode(raw: bytes, path: str, lineno: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise HistoryError("not UTF-8 text", path=path,
                           line=lineno + raw.count(b"\n", 0, e.start)) from None


def _numbered(first: int, block: str) -> Iterator[tuple[int, str]]:
    """(line number, text) for each line of a block, without its line ending."""
    lines = block.split("\n")
    if lines[-1] == "":
        lines.pop()
    return enumerate((t[:-1] if t.endswith("\r") else t for t in lines), first)


def _read_blocks(blocks: Iterator[tuple[int, str]], format: str, path: str | None,
                 deadline: float | None = None) -> LoadedHistory:
    if format == "auto":
        head, lines = [], []  # the blocks read to find DETECT_LINES lines from the first op
        for block in blocks:
            head.append(block)
            for n, text in _numbered(*block):
                if lines or text.strip():
                    lines.append((n, text))
                    if len(lines) == DETECT_LINES:
                        break
            if len(lines) == DETECT_LINES:
                break
        if not lines:
            return LoadedHistory(History([]), "empty")  # trivially valid in every format
        format = _detect(lines, path)
        blocks = itertools.chain(head, blocks)
    builder = _Builder(path)
    if format in ("knossos-edn", "json"):
        text = "".join(block for _, block in blocks)
        (_read_knossos if format == "knossos-edn" else _read_json)(text, 1, builder)
        return builder.finish(format)
    read_line = _LINE_READERS[format]
    builder.carry_values = format == "etcd-log"
    builder.deadline = deadline
    shape = _SHAPES.get(format)
    for first, block in blocks:
        if format == "jepsen-edn":  # keys in the order of the block's first line
            shape = _edn_shape(block) or shape
        if shape is not None:
            rows = shape.pattern.findall(block)
            builder.add_rows(rows if shape.order is None else map(shape.order, rows), first,
                             shape, read_line)
            continue
        for lineno, text in _numbered(first, block):
            builder.add_line(text, lineno, read_line)
    return builder.finish(format)


def _detect(lines: list[tuple[int, str]], path: str | None) -> str:
    """The format of a file from its first lines, or an error naming what was seen."""
    first = next(((n, t.strip()) for n, t in lines if t.strip() and not t.lstrip()
                  .startswith(";")), None)
    if first is None:
        raise HistoryError("empty history file", path=path)
    lineno, line = first
    if line.startswith("{"):
        rest = line[1:].lstrip()
        if not rest:
            return "json"  # a pretty-printed JSON document (a bundle, say)
        if rest.startswith(('"', "}")):
            return "jsonl"
        if ":key" in line and ":process" in line:
            return "kv-log"
        return "jepsen-edn"
    if _TAGGED_MAP.match(line):
        return "jepsen-edn"  # one tagged record per line: #jepsen.history.Op{...}
    if line.startswith("["):
        rest = line[1:].lstrip()
        return "json" if rest.startswith(("{\"", "]")) or not rest else "knossos-edn"
    if line.startswith("("):
        return "knossos-edn"
    if _LOG_LINE.match(line):  # every line an op (Porcupine's etcd logs), or a whole log
        if all(_LOG_LINE.match(t) for _, t in lines if t.strip()):
            return "etcd-log"
        return "jepsen-log"
    if _ROW.match(line) and "\t" in line:
        return "history-txt"
    if any(_LOG_LINE.match(t) for _, t in lines):
        return "jepsen-log"
    shown = line if len(line) <= 60 else line[:57] + "..."
    raise HistoryError(f"cannot tell the history format from {shown!r}: it is not an EDN op "
                       "map, a Knossos vector, JSON, a history.txt row or a Jepsen log line; "
                       "pass --format", path=path, line=lineno)


class _Builder:
    """Collects ops in file order and enforces Jepsen's process rules as they come."""

    def __init__(self, path: str | None):
        self.path = path
        self.ops: list[Op] = []
        self.open: dict[Any, tuple[Op, int]] = {}  # process -> (its invoke, line)
        self.retired: dict[Any, int] = {}          # process -> line of its info
        self.lone_infos: list[int] = []
        self.skipped = 0
        self.lines: list[int] = []
        self.carry_values = False  # completions take their invoke's value (etcd logs)
        self.deadline: float | None = None  # (time.monotonic) for lines read one by one

    def fail(self, problem: str, line: int):
        raise HistoryError(problem, path=self.path, line=line)

    def add(self, type: str, process, f: str, value, line: int, time=None, index=None,
            node=None, error=None) -> None:
        if process.__class__ is not int:  # (`type` is the op's; bool is refused too)
            if isinstance(process, str):  # :nemesis and other non-client processes
                self.skipped += 1
                return
            self.fail(f"process must be an integer or a name, got {_shown(process)}", line)
        open_ = self.open
        if type == INVOKE:
            if process in open_:
                self.fail(f"process {process} invokes while its op from line "
                          f"{self.open[process][1]} is still open", line)
            if process in self.retired:
                self.fail(f"process {process} invokes after its info op on line "
                          f"{self.retired[process]}; Jepsen never reuses a process after "
                          "info", line)
        else:
            invoke = open_.pop(process, None)
            if invoke is None:
                if type == INFO:
                    self.lone_infos.append(line)
                    return
                self.fail(f"{type} for process {process} with no open invoke", line)
            inv = invoke[0]
            if inv.f != f:
                self.fail(f"completion f {f!r} does not match its invoke's {inv.f!r}", line)
            if self.carry_values:  # Porcupine's etcd logs: `:timed-out` where the value goes
                if type != OK and isinstance(value, edn.Keyword) and error is None:
                    value, error = None, value
                if f != "read":
                    value = inv.value
            if type == INFO:
                self.retired[process] = line
        op = Op(line if index is None else index, type, process, f, value, time, node, error)
        if type == INVOKE:
            open_[process] = (op, line)
        self.ops.append(op)
        self.lines.append(line)

    def add_rows(self, rows: Iterable[tuple[str, ...]], first: int, shape: _Shape,
                 read_line: Callable) -> None:
        """Ops from the rows of a block of lines read by a _Shape, one row per line from
        `first` on. The usual case is handled here, for speed; any other (a lone completion,
        a process reused, an error where the value goes) goes through `add`, which applies
        every rule, and a line not of the shape through `read_line`."""
        ops, lines, open_, retired = self.ops, self.lines, self.open, self.retired
        carry, types, names, keyword, make = (self.carry_values, _TYPE_NAMES, _NAMES,
                                              edn.Keyword, tuple.__new__)
        value_of, more_of = shape.value_of, shape.more_of
        for line, (process, type, f, value, time_, index, more, other) in enumerate(rows, first):
            if not type:
                if other:
                    self.add_line(other, line, read_line)
                continue
            process, type = int(process), types[type]
            f = names.get(f) or names.setdefault(f, f)
            value = value_of(value)
            time_ = int(time_) if time_ else None
            index = int(index) if index else line
            node = error = None
            if more:
                node, error = more_of(more, line, self)
            if type == INVOKE:
                if process in open_ or process in retired:
                    self.add(type, process, f, value, line, time_, index, node, error)
                    continue
                op = make(Op, (index, type, process, f, value, time_, node, error))
                open_[process] = (op, line)
            else:
                invoke = open_.get(process)
                if (invoke is None or type == INFO or invoke[0].f != f
                        or carry and value.__class__ is keyword):
                    self.add(type, process, f, value, line, time_, index, node, error)
                    continue
                del open_[process]
                if carry and f != "read" or value == invoke[0].value:
                    value = invoke[0].value  # (equal values: one object for both ops)
                op = make(Op, (index, type, process, f, value, time_, node, error))
            ops.append(op)
            lines.append(line)

    def add_line(self, text: str, line: int, read_line: Callable) -> None:
        """A line no _Shape took, to its format's general reader (blank lines and
        comments are skipped), within the deadline."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ReadTimeout(f"the time limit ran out reading line {line}")
        if text.endswith("\r"):
            text = text[:-1]
        if text.strip() and not text.lstrip().startswith(";"):
            read_line(text, line, self)

    def finish(self, format: str) -> LoadedHistory:
        warnings = []
        if self.lone_infos:
            n = len(self.lone_infos)
            warnings.append(f"{n} :info completion(s) with no invoke ignored, as Knossos does "
                            f"(first on line {self.lone_infos[0]})")
        return LoadedHistory(History(self.ops), format, tuple(warnings), tuple(self.lines))


def _shown(x: Any) -> str:
    text = edn.dumps(x) if not isinstance(x, (dict,)) else repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


# ---- one op per line ----------------------------------------------------------------------

def _from_map(d: Any, line: int, b: _Builder, is_plain: bool = False) -> None:
    """A Jepsen op map (EDN keywords or JSON strings as keys) into the builder;
    `is_plain`: its values are plain already (the fast op-line reader's are)."""
    if not isinstance(d, dict):
        b.fail(f"expected an op map, got {_shown(d)}", line)
    for field in ("type", "process", "f"):
        if field not in d:
            b.fail(f"op map is missing :{field}", line)
    kind = _TYPE_NAMES.get(d["type"]) if isinstance(d["type"], str) else None
    if kind is None:
        b.fail(f"unknown :type {_shown(d['type'])}", line)
    f = d["f"]
    if not isinstance(f, str):
        b.fail(f":f must be a keyword, got {_shown(f)}", line)
    f = _NAMES.get(f) or _NAMES.setdefault(f, str(f))
    index, time = d.get("index"), d.get("time")
    for name, v in (("index", index), ("time", time)):
        if v is not None and (type(v) is not int):
            b.fail(f":{name} must be an integer, got {_shown(v)}", line)
    value, node, error = d.get("value"), d.get("node"), d.get("error")
    if not is_plain:
        value, node, error = (x if type(x) in _FLAT else plain(x) for x in (value, node, error))
    b.add(kind, d["process"], f, value, line, time, index, node, error)


def _read_jepsen_line(text: str, line: int, b: _Builder) -> None:
    d = edn.read_op_line(text)
    if d is not None:
        _from_map(d, line, b, is_plain=True)
        return
    tagged = _TAGGED_MAP.match(text)
    _from_map(edn.loads(text[tagged.end():] if tagged else text, path=b.path, line=line),
              line, b)


def _kv_value(text: str) -> list:
    """[key, value] from the `"<key>", :value <value>` text that _COMMON_KV matches."""
    key, _, value = text[1:].partition('", :value ')
    return [key, None if value == "nil" else value[1:-1]]


def _read_kv_line(text: str, line: int, b: _Builder) -> None:
    """Porcupine kv logs: `{:process 9, :type :invoke, :f :append, :key "0", :value "x"}`,
    read as Jepsen `independent` values: [key value]."""
    d = edn.read_op_line(text) or edn.loads(text, path=b.path, line=line)
    if not isinstance(d, dict) or "key" not in d:
        b.fail("expected an op map with a :key", line)
    if d.get("f") not in ("get", "put", "append"):
        b.fail(f"unknown :f {_shown(d.get('f'))} (expected :get, :put or :append)", line)
    d = dict(d)
    d["value"] = [plain(d.pop("key")), d.get("value")]
    _from_map(d, line, b)


def _read_row(text: str, line: int, b: _Builder, *, log: bool) -> None:
    """A history.txt row, or a Jepsen log line (`log`), holding one op in a shape the
    common shapes (_SHAPES) do not take."""
    if log:
        m = _LOG_LINE.match(text)
        if m is None:
            b.fail("expected a Jepsen log line: 'INFO  jepsen.util - <process> <type> <f> "
                   "<value>'", line)
        text = m.group(1)
    m = _ROW.match(text)
    if m is None:
        b.fail("expected '<process>\\t<type>\\t<f>\\t<value>[\\t<error>]'", line)
    process_s, kind_s, f_s, rest = m.groups()
    kind, f = kind_s[1:], f_s[1:]
    if kind not in TYPES:
        b.fail(f"unknown type {kind_s!r}", line)
    if process_s.startswith(":"):
        process: Any = edn.Keyword(process_s[1:])
    else:
        try:
            process = int(process_s)
        except ValueError:
            b.fail(f"process must be an integer or a :name, got {process_s!r}", line)
    value, error = _value_and_error(rest or "", line, b)
    b.add(kind, process, f, value, line, error=error)


def _value_and_error(rest: str, line: int, b: _Builder):
    """The value column (one EDN form) and the error column after it, printed unquoted by
    Jepsen: read as EDN when it is one form, else kept as text."""
    if not rest:
        return None, None
    if "\t" in rest:
        value_s, error_s = rest.split("\t", 1)
    else:
        reader = edn._Reader(rest, b.path, line)
        try:
            reader.read()
        except RecursionError:
            reader.fail("nested too deeply")
        value_s, error_s = rest[:reader.pos], rest[reader.pos:]
    value = plain(edn.loads(value_s, path=b.path, line=line))
    error_s = error_s.strip()
    if not error_s:
        return value, None
    try:
        error = plain(edn.loads(error_s))
    except HistoryError:
        error = error_s
    return value, error


def _read_history_txt(text, line, b):
    _read_row(text, line, b, log=False)


def _read_etcd_line(text, line, b):
    _read_row(text, line, b, log=True)


def _read_jepsen_log(text, line, b):
    if _LOG_LINE.match(text):  # the other lines of a log are not ops
        _read_row(text, line, b, log=True)


def _read_jsonl(text: str, line: int, b: _Builder) -> None:
    _from_map(_json(text, b, line), line, b)


def _edn_pairs(text: str, line: int, b: _Builder) -> tuple[Any, Any]:
    """(node, error) from the text of an EDN op line's other keys."""
    pairs = "{" + text + "}"
    fields = edn.read_op_line(pairs) or edn.loads(pairs, path=b.path, line=line)
    return fields.get("node"), fields.get("error")


def _error_column(text: str, line: int, b: _Builder) -> tuple[Any, Any]:
    return None, edn.read_value(text)


class _Shape(NamedTuple):
    """The common shape of a format's op lines, read a block at a time. `pattern` gives
    each line of a block a row of eight groups, put by `order` (if any) as (process, type,
    f, value, time, index, more, a line not of the shape, whole); `value_of` reads the
    value group, `more_of` gives (node, error) from the `more` group."""

    pattern: re.Pattern
    order: Callable | None
    value_of: Callable
    more_of: Callable


def _shape(line: str, order: tuple[int, ...] | None = None, value_of: Callable = edn.read_value,
           more_of: Callable = _error_column) -> _Shape:
    pattern = re.compile(r"^(?:" + line + r")[ \t]*+\r?$|^(.*)$", re.M)
    return _Shape(pattern, order and operator.itemgetter(*order), value_of, more_of)


_SHAPES = {"history-txt": _shape(_SIMPLE), "etcd-log": _shape(_COMMON_LOG),
           "jepsen-log": _shape(_COMMON_LOG), "kv-log": _shape(_COMMON_KV, None, _kv_value)}
_EDN_SHAPES: dict[str, _Shape] = {}  # by pattern: one per order of keys seen


def _edn_shape(block: str) -> _Shape | None:
    """The shape of a Jepsen EDN block's op lines, from its first line (None if that line
    is not of the common shape)."""
    end = block.find("\n")
    found = edn.op_lines_shape(block if end < 0 else block[:end])
    if found is None:
        return None
    line, order = found
    shape = _EDN_SHAPES.get(line)
    if shape is None:
        shape = _EDN_SHAPES[line] = _shape(line, order, more_of=_edn_pairs)
    return shape


_LINE_READERS = {
    "jepsen-edn": _read_jepsen_line,
    "kv-log": _read_kv_line,
    "history-txt": _read_history_txt,
    "etcd-log": _read_etcd_line,
    "jepsen-log": _read_jepsen_log,
    "jsonl": _read_jsonl,
}


# ---- whole documents ---------------------------------------------------------------------

def _read_knossos(text: str, first_line: int, b: _Builder) -> None:
    """A Knossos-style history: one EDN vector (or list) of op maps over many lines."""
    forms = edn.loads_all(text, path=b.path, line=first_line)
    if len(forms) != 1 or not isinstance(forms[0][1], list):
        line = forms[1][0] if len(forms) > 1 else first_line
        b.fail("expected a single EDN vector of op maps", line)
    # Find each map's line by re-reading element by element; the reader tracks lines.
    reader = edn._Reader(text, b.path, first_line)
    reader.skip_ws()
    reader.pos += 1  # the opening [ or (
    for d in forms[0][1]:
        reader.skip_ws()
        while reader.text.startswith("#_", reader.pos):
            reader.pos += 2
            reader.read()
            reader.skip_ws()
        lineno = reader.line
        reader.read()
        _from_map(d, lineno, b)


def _read_json(text: str, first_line: int, b: _Builder) -> None:
    """A JSON document: an array of op objects, or an object with a "history" array (a
    faultlab bundle). Ops are numbered by their position, lines being unknown."""
    doc = _json(text, b, first_line)
    ops = doc.get("history") if isinstance(doc, dict) else doc
    if not isinstance(ops, list):
        b.fail("expected a JSON array of ops or an object with a \"history\" array",
               first_line)
    for position, d in enumerate(ops):
        if isinstance(d, dict) and "index" not in d:
            d = {**d, "index": position}
        _from_map(d, position + 1, b)


def _json(text: str, b: _Builder, line: int):
    """Decode JSON, keeping integers exact: orjson turns those past 64 bits into floats, so
    text with such long digit runs goes to the standard library's decoder, as does text
    orjson refuses but JSON allows (an escaped lone surrogate)."""
    try:
        if not edn.ORJSON_INEXACT.search(text):
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                pass
        return json.loads(text)
    except json.JSONDecodeError as e:
        b.fail(f"invalid JSON ({e.msg})", line)
    except RecursionError:
        b.fail("JSON nested too deeply", line)


_FLAT = (type(None), int, str, edn.Keyword, float, bool)  # values `plain` leaves as they are
_TYPE_NAMES = {t: t for t in TYPES}  # :ok -> "ok", checking it at once
_NAMES: dict[str, str] = {}          # one str per :f name


def plain(x):
    """EDN keywords in values stay Keyword (a str); vectors and lists become lists."""
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, dict):
        return {str(k) if isinstance(k, str) else k: plain(v) for k, v in x.items()}
    if isinstance(x, frozenset):
        return sorted((plain(v) for v in x), key=repr)
    return x
