"""A small EDN reader and a writer of Jepsen's one-op-map-per-line history shape.

EDN is Clojure's data notation, used by Jepsen and Knossos for histories. The reader covers
what histories contain: nil, booleans, numbers, strings, characters, keywords, symbols, lists,
vectors, maps, sets, `#_` discards, comments and tagged literals (the tag is dropped). Keywords
and symbols come back as `Keyword`/`Symbol`, str subclasses, so `:ok` compares equal to "ok"
while the writer can still tell a keyword from a string.
"""
from __future__ import annotations

import re
from typing import Any

import orjson

from faultlab.histories.errors import HistoryError


class Keyword(str):
    """An EDN keyword such as `:ok`, held without its colon."""

    __slots__ = ()

    def __repr__(self) -> str:
        return ":" + str(self)


class Symbol(str):
    """An EDN symbol such as `foo`."""

    __slots__ = ()


_WS = " \t\r\n,"
_DELIMS = _WS + "()[]{}\";"
_INT = re.compile(r"[+-]?\d+N?\Z")
_FLOAT = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?M?\Z")
_RATIO = re.compile(r"[+-]?\d+/\d+\Z")
# Clojure's other integers: hex, as in the identity hash of a printed `#object[...]`, and
# radix (`2r101`).
_BASED_INT = re.compile(r"([+-]?)(?:0[xX]([0-9a-fA-F]+)|(\d\d?)[rR]([0-9a-zA-Z]+))N?\Z")
_SPECIAL_FLOATS = {"Inf": float("inf"), "-Inf": float("-inf"), "NaN": float("nan")}
_LITERALS = {"nil": None, "true": True, "false": False}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "b": "\b", "f": "\f"}
_CHARS = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r", "formfeed": "\f",
          "backspace": "\b"}
_CLOSE = {"(": ")", "[": "]", "{": "}"}


class _Reader:
    """Recursive-descent parser over one string; `line` tracks the line for error messages."""

    def __init__(self, text: str, path: str | None, first_line: int):
        self.text, self.pos, self.path = text, 0, path
        self.line = first_line

    def fail(self, problem: str):
        raise HistoryError(f"EDN: {problem}", path=self.path, line=self.line)

    def skip_ws(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            c = text[self.pos]
            if c == "\n":
                self.line += 1
                self.pos += 1
            elif c in _WS:
                self.pos += 1
            elif c == ";":
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end
            else:
                return

    def at_end(self) -> bool:
        self.skip_ws()
        return self.pos >= len(self.text)

    def read(self) -> Any:
        self.skip_ws()
        if self.pos >= len(self.text):
            self.fail("unexpected end of input")
        c = self.text[self.pos]
        if c in "([{":
            self.pos += 1
            items = self.read_until(_CLOSE[c])
            if c == "{":
                return self.make_map(items)
            return items
        if c in ")]}":
            self.fail(f"unexpected {c!r}")
        if c == '"':
            return self.read_string()
        if c == "#":
            return self.read_dispatch()
        if c == "\\":
            return self.read_char()
        return self.read_atom()

    def read_until(self, close: str) -> list:
        items = []
        while True:
            self.skip_ws()
            if self.pos >= len(self.text):
                self.fail(f"missing closing {close!r}")
            if self.text[self.pos] == close:
                self.pos += 1
                return items
            if self.text.startswith("#_", self.pos):
                self.pos += 2
                self.read()
                continue
            items.append(self.read())

    def make_map(self, items: list) -> dict:
        if len(items) % 2:
            self.fail("a map needs an even number of forms")
        out = {_hashable(items[i]): items[i + 1] for i in range(0, len(items), 2)}
        if len(out) < len(items) // 2:
            keys = [_hashable(items[i]) for i in range(0, len(items), 2)]
            dup = next(k for k in keys if keys.count(k) > 1)
            self.fail(f"duplicate key {dumps(dup)} in a map")
        return out

    def read_string(self) -> str:
        text, out = self.text, []
        i = self.pos + 1
        while True:
            j = i
            while j < len(text) and text[j] not in '"\\':
                j += 1
            out.append(text[i:j])
            if j >= len(text):
                self.fail("unterminated string")
            self.line += text.count("\n", i, j)
            if text[j] == '"':
                self.pos = j + 1
                return "".join(out)
            esc = text[j + 1:j + 2]
            if esc == "u":
                try:
                    out.append(chr(int(text[j + 2:j + 6], 16)))
                except ValueError:
                    self.fail("bad \\u escape in string")
                i = j + 6
            elif esc in _ESCAPES:
                out.append(_ESCAPES[esc])
                i = j + 2
            else:
                self.fail(f"unknown escape \\{esc} in string")

    def read_token(self) -> str:
        start = self.pos
        text, n = self.text, len(self.text)
        while self.pos < n and text[self.pos] not in _DELIMS:
            self.pos += 1
        return text[start:self.pos]

    def read_char(self) -> str:
        self.pos += 1
        token = self.read_token()
        if not token and self.pos < len(self.text):  # `\(` and friends
            token = self.text[self.pos]
            self.pos += 1
        if len(token) == 1:
            return token
        if token in _CHARS:
            return _CHARS[token]
        if token.startswith("u") and len(token) == 5:
            try:
                return chr(int(token[1:], 16))
            except ValueError:
                pass
        self.fail(f"unknown character literal \\{token[:20]}")

    def read_dispatch(self) -> Any:
        nxt = self.text[self.pos + 1:self.pos + 2]
        if nxt == "#":  # ##Inf, ##-Inf, ##NaN
            self.pos += 2
            token = self.read_token()
            if token not in _SPECIAL_FLOATS:
                self.fail(f"unknown symbolic value ##{token}")
            return _SPECIAL_FLOATS[token]
        if nxt == '"':  # a regex literal: its source text
            self.pos += 1
            return self.read_string()
        if nxt == "{":
            self.pos += 2
            return frozenset(_hashable(x) for x in self.read_until("}"))
        if nxt == "_":
            self.pos += 2
            self.read()
            return self.read()
        # A tagged literal such as #inst "..." or #jepsen.history.Op{...}: keep the value.
        self.pos += 1
        tag = self.read_token()
        if not tag:
            self.fail("bad # dispatch")
        return self.read()

    def read_atom(self) -> Any:
        token = self.read_token()
        if not token:
            self.fail(f"unexpected {self.text[self.pos]!r}")
        if token[0] == ":":
            if len(token) == 1:
                self.fail("empty keyword")
            return Keyword(token[1:])
        if token in _LITERALS:
            return _LITERALS[token]
        if _INT.match(token):
            return int(token.rstrip("N"))
        if _FLOAT.match(token):
            return float(token.rstrip("M"))
        if _RATIO.match(token):
            from fractions import Fraction  # rare in histories, and slow to import

            return Fraction(token)
        based = _BASED_INT.match(token)
        if based is not None:
            sign, hex_digits, radix, digits = based.groups()
            base = 16 if hex_digits else int(radix)
            try:
                if not 2 <= base <= 36:
                    raise ValueError
                n = int(hex_digits or digits, base)
            except ValueError:  # a radix past 2..36, or a digit past the radix
                self.fail(f"bad number {token!r}")
            return -n if sign == "-" else n
        if token[0].isdigit() or (token[0] in "+-" and token[1:2].isdigit()):
            self.fail(f"bad number {token!r}")
        return Symbol(token)


# The common shape of a Jepsen op-map line, read by regular expressions instead of the reader:
# `{:type :ok, :f :write, :process 3, :value [1 2], :index 7}` with keyword keys and values
# that are keywords, integers, nil, booleans, strings without escapes, or vectors of those
# nested up to three deep (a transaction: `[[:append 5 3] [:r 5 [1 2 3]]]`). Anything else
# (floats, escapes, maps, sets, comments) goes to the full reader. No part of a value crosses
# a line, so the patterns can run over a whole block of lines.
# (Possessive `*+` and `++`, which never give back what they took, leave nothing to try again:
# what follows each never starts with what it takes. A third less time on nested vectors.)
NAME_PATTERN = r'[^\s,\[\](){}"#;\\]++'
_SCALAR = r'(?:-?\d++|:' + NAME_PATTERN + r'|nil|true|false|"[^"\\\n]*+")(?![^\s,\]}])'
_VECTOR = r'\[[ \t,]*+(?:' + _SCALAR + r'[ \t,]*+)*+\]'
for _ in range(2):  # vectors of scalars and of the vectors before: three deep
    _VECTOR = r'\[[ \t,]*+(?:(?:' + _SCALAR + r'|' + _VECTOR + r')[ \t,]*+)*+\]'
VALUE_PATTERN = r'(?:' + _SCALAR + r'|' + _VECTOR + r')'
_PAIR = r'[ \t,]*:(' + NAME_PATTERN + r')[ \t,]+(' + VALUE_PATTERN + r')'
_OP_LINE = re.compile(r'\s*\{(?:' + _PAIR + r')*[ \t,]*\}\s*')
_PAIRS = re.compile(_PAIR)
_ELEMENT = re.compile(_SCALAR)
_TOKEN = re.compile(r'\[|\]|' + _SCALAR)
ORJSON_INEXACT = re.compile(r"\d{19}")  # digit runs orjson may read as floats
_KEYWORD_NAME = re.compile(r":(" + NAME_PATTERN + r")")
_KEYWORDS: dict[str, Keyword] = {}  # one Keyword object per name seen: time and memory


def _keyword(name: str) -> Keyword:
    kw = _KEYWORDS.get(name)
    if kw is None:
        kw = _KEYWORDS[name] = Keyword(name)
    return kw


def _scalar(token: str) -> Any:
    c = token[0]
    if c == ":":
        return _keyword(token[1:])
    if c == '"':
        return token[1:-1]
    if token in _LITERALS:
        return _LITERALS[token]
    return int(token)


def read_op_line(line: str) -> dict | None:
    """A Jepsen op-map line in its common shape as a dict with str keys, quickly; None when
    the line needs the full reader (`loads`)."""
    if _OP_LINE.fullmatch(line) is None:
        return None
    out: dict = {}
    for key, raw in _PAIRS.findall(line):
        if key in out:
            return None  # let the full reader report the duplicate
        out[key] = read_value(raw)
    return out


def read_value(raw: str) -> Any:
    """A value the op-line patterns matched, flat or nested; None for "" (no value)."""
    if not raw:
        return None
    if raw[0] != "[":
        return _scalar(raw)
    if '"' not in raw and (len(raw) < 20 or not ORJSON_INEXACT.search(raw)):
        # Without strings or long integers, a vector is read as JSON, 4-10 times faster:
        # keywords as strings, made Keywords after. Odd spacing is invalid JSON and falls
        # through.
        named = ":" in raw
        if named:  # split into the text between keywords and their names, alternately
            parts = _KEYWORD_NAME.split(raw)
            parts[::2] = [p.replace("nil", "null") for p in parts[::2]]
            parts[1::2] = [f'"{name}"' for name in parts[1::2]]
            text = "".join(parts)
        else:
            text = raw.replace("nil", "null")
        try:
            value = orjson.loads(text.replace(" ", ","))
        except orjson.JSONDecodeError:
            pass
        else:
            return _keywords(value) if named else value
    if "[" not in raw[1:]:
        return [_scalar(t) for t in _ELEMENT.findall(raw)]
    stack: list[list] = [[]]
    for t in _TOKEN.findall(raw):
        if t == "[":
            stack.append([])
        elif t == "]":
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(_scalar(t))
    return stack[0][0]


def _keywords(value: list) -> list:
    """Lists read as JSON with their strings, all keywords, made Keyword objects."""
    known = _KEYWORDS
    return [(known.get(x) or _keyword(x)) if x.__class__ is str
            else _keywords(x) if x.__class__ is list else x for x in value]


# The fields of an op a row gives, in a row's order; then the text of any other keys.
ROW_FIELDS = ("process", "type", "f", "value", "time", "index")
_FIELD = {"process": r"(-?\d+)", "type": r":(invoke|ok|fail|info)",
          "f": r":(" + NAME_PATTERN + r")", "value": r"(" + VALUE_PATTERN + r")",
          "time": r"(-?\d+)", "index": r"(-?\d+)"}
_SEP = r"[ \t,]++"
_OTHER_PAIRS = (r"((?:" + _SEP + r":(?!(?:" + "|".join(ROW_FIELDS) + r")[ \t,])" + NAME_PATTERN
                + _SEP + VALUE_PATTERN + r")*)")
_TAG = re.compile(r"\s*#[\w.\-]+\s*(?=\{)")


def op_lines_shape(line: str) -> tuple[str, tuple[int, ...]] | None:
    """A pattern for op-map lines of the common shape with the keys of `line` in its order
    (other keys, such as Jepsen's :error, may follow them) with seven groups, and the order
    that puts those and one group after them as (process, type, f, value, time, index,
    other keys, that last group); None when `line` is not such a line, or has another key
    before one of those fields."""
    tag = _TAG.match(line)
    fields = read_op_line(line[tag.end():] if tag else line)
    if fields is None or not {"process", "type", "f"} <= fields.keys():
        return None
    keys = [k for k in fields if k in _FIELD]
    if list(fields)[:len(keys)] != keys:
        return None
    absent = [k for k in ROW_FIELDS if k not in keys]
    pattern = (r"[ \t]*(?:#[\w.\-]+[ \t]*)?\{[ \t,]*"
               + _SEP.join(":" + k + _SEP + _FIELD[k] for k in keys)
               + "()" * len(absent) + _OTHER_PAIRS + r"[ \t,]*+\}")
    groups = keys + absent
    return pattern, (*(groups.index(k) for k in ROW_FIELDS), len(groups), len(groups) + 1)


def _hashable(x: Any) -> Any:
    """Map keys and set members must be hashable: vectors become tuples, maps sorted pairs."""
    if isinstance(x, list):
        return tuple(_hashable(v) for v in x)
    if isinstance(x, dict):
        return tuple(sorted(((_hashable(k), _hashable(v)) for k, v in x.items()), key=repr))
    return x


def loads(text: str, *, path: str | None = None, line: int = 1) -> Any:
    """Parse exactly one EDN form; errors name `path:line`."""
    reader = _Reader(text, path, line)
    try:
        value = reader.read()
    except RecursionError:
        reader.fail("nested too deeply")
    if not reader.at_end():
        reader.fail("unexpected text after the form")
    return value


def loads_all(text: str, *, path: str | None = None, line: int = 1) -> list[tuple[int, Any]]:
    """Parse every top-level form, returning (line where the form starts, value) pairs."""
    reader = _Reader(text, path, line)
    forms = []
    while not reader.at_end():
        start = reader.line
        try:
            forms.append((start, reader.read()))
        except RecursionError:
            reader.fail("nested too deeply")
    return forms


def dumps(x: Any) -> str:
    """Write a value as EDN: str as strings, Keyword as keywords, lists as vectors."""
    if x is None:
        return "nil"
    if x is True:
        return "true"
    if x is False:
        return "false"
    if isinstance(x, Keyword):
        return ":" + x
    if isinstance(x, Symbol):
        return str(x)
    if isinstance(x, str):
        escaped = x.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return '"' + escaped.replace("\t", "\\t").replace("\r", "\\r") + '"'
    if isinstance(x, (int, float)):
        return repr(x)
    if isinstance(x, (list, tuple)):
        return "[" + " ".join(dumps(v) for v in x) + "]"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{dumps(k)} {dumps(v)}" for k, v in x.items()) + "}"
    if isinstance(x, (set, frozenset)):
        return "#{" + " ".join(sorted(dumps(v) for v in x)) + "}"
    raise TypeError(f"cannot write {type(x).__name__} as EDN")


def dumps_op(op) -> str:
    """One op as Jepsen writes it in history.edn: `{:index 0, :time 12, :type :invoke, ...}`."""
    fields: dict = {Keyword("index"): op.index}
    if op.time is not None:
        fields[Keyword("time")] = op.time
    fields[Keyword("type")] = Keyword(op.type)
    process = op.process
    fields[Keyword("process")] = Keyword(process) if isinstance(process, str) else process
    fields[Keyword("f")] = Keyword(op.f)
    fields[Keyword("value")] = op.value
    if op.node is not None:
        fields[Keyword("node")] = op.node
    if op.error is not None:
        fields[Keyword("error")] = op.error
    return dumps(fields)


def dumps_history(history) -> str:
    """A history in Jepsen's history.edn shape: one op map per line."""
    return "".join(dumps_op(op) + "\n" for op in history)
