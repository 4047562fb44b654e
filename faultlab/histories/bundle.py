"""Repro bundles: one JSON file holding everything needed to replay a failing run exactly.

The spec is kept as plain data here (the campaign layer turns it into a RunSpec), so this
module stays free of simulator imports.
"""
from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from pathlib import Path

import attrs
import orjson

from faultlab.histories.errors import BundleError, HistoryError
from faultlab.histories.history import History
from faultlab.histories.jsonl import op_from_dict

FORMAT_VERSION = 2  # 2: faults carry triggers instead of on_election params


@attrs.frozen
class Bundle:
    """A saved failing run: the spec, the fingerprint it produced, and the checks it failed."""

    spec: dict
    fingerprint: str
    failing_checks: tuple[str, ...]
    faultlab_version: str
    history: History | None = None
    format_version: int = FORMAT_VERSION

    def to_json(self) -> bytes:
        doc = {
            "format_version": self.format_version,
            "faultlab_version": self.faultlab_version,
            "spec": self.spec,
            "fingerprint": self.fingerprint,
            "failing_checks": list(self.failing_checks),
        }
        head = orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        if self.history is None:
            return head + b"\n"
        # One op per line: an indented history would triple the file for no reader's benefit.
        ops = b",\n    ".join(orjson.dumps(op.to_dict(), option=orjson.OPT_NON_STR_KEYS)
                               for op in self.history)
        return head[:-2] + b',\n  "history": [\n    ' + ops + b"\n  ]\n}\n"


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half.
    Ctrl-C and SIGTERM wait until it is done, so no temporary file is left behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _interrupts_held():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the usual file mode
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


@contextlib.contextmanager
def _interrupts_held():
    """Hold Ctrl-C and SIGTERM until the block is over, then deliver the first that came.
    (Python runs signal handlers in the main thread only, so elsewhere nothing is held.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {s: signal.signal(s, lambda signum, _: caught.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
        if caught:
            signal.raise_signal(caught[0])


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bundle(path: str | Path, bundle: Bundle) -> Path:
    path = Path(path)
    write_atomic(path, bundle.to_json())
    return path


def _field(doc: dict, name: str, kind, path: str):
    if name not in doc:
        raise BundleError(f"{path}: bundle is missing field {name!r}")
    value = doc[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        want = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise BundleError(f"{path}: bundle field {name!r} must be {want}, "
                          f"got {type(value).__name__}")
    return value


def load_bundle(path: str | Path) -> Bundle:
    """Read a bundle, naming the file and the bad field on any problem."""
    p = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise BundleError(f"{p}: no such bundle file") from None
    except OSError as e:
        raise BundleError(f"{p}: cannot read bundle ({e.strerror})") from None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise BundleError(f"{p}: not valid JSON ({e.msg})") from None
    if not isinstance(doc, dict):
        raise BundleError(f"{p}: a bundle must be a JSON object")
    version = _field(doc, "format_version", int, p)
    if version != FORMAT_VERSION:
        raise BundleError(f"{p}: bundle format_version {version} is not supported "
                          f"(this faultlab reads {FORMAT_VERSION})")
    spec = _field(doc, "spec", dict, p)
    fingerprint = _field(doc, "fingerprint", str, p)
    checks = _field(doc, "failing_checks", list, p)
    if not all(isinstance(c, str) for c in checks):
        raise BundleError(f"{p}: bundle field 'failing_checks' must be a list of names")
    fl_version = _field(doc, "faultlab_version", str, p)
    history = None
    if doc.get("history") is not None:
        ops = _field(doc, "history", list, p)
        try:
            history = History(op_from_dict(d, i) for i, d in enumerate(ops))
        except HistoryError as e:
            raise BundleError(f"{p}: bundle field 'history': {e}") from None
    return Bundle(spec=spec, fingerprint=fingerprint, failing_checks=tuple(checks),
                  faultlab_version=fl_version, history=history, format_version=version)
