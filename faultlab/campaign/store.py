"""Where a campaign's output goes: `store/<protocol>/<timestamp>/`, as Jepsen lays it out.

A run directory holds the failing runs' bundles, `summary.json` and `command.txt` (the
command that produced it); `store/latest` and `store/<protocol>/latest` point at the newest.
The directory is made, and a file written in it, before any work starts, so an unwritable
place is refused at once rather than after the campaign.
"""
from __future__ import annotations

import contextlib
import datetime
import os
from pathlib import Path

import orjson

from faultlab.errors import FaultlabError
from faultlab.histories.bundle import write_atomic

STORE = Path("store")


def open_run_dir(protocol: str, command: str, out: str | Path | None = None,
                 root: Path = STORE) -> Path:
    """Make the directory a campaign writes to and record `command` in it. With `out`, that
    directory; otherwise a fresh `root/<protocol>/<UTC timestamp>/`, linked as latest."""
    if out is not None:
        path = Path(out)
    else:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S")
        path = root / protocol / stamp
        n = 1
        while path.exists():  # two campaigns in one second
            n += 1
            path = root / protocol / f"{stamp}-{n}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        write_atomic(path / "command.txt", (command + "\n").encode())
    except OSError as e:
        raise FaultlabError(f"cannot write to {path}: {e.strerror or e}") from None
    if out is None:
        for link in (root / "latest", root / protocol / "latest"):
            _relink(link, path)
    return path


def _relink(link: Path, target: Path) -> None:
    """Point `link` at `target` (relative, so the store can be moved), replacing it
    atomically; a filesystem without links just goes without."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)
        os.symlink(os.path.relpath(target, link.parent), tmp)
        os.replace(tmp, link)


def write_summary(path: Path, summary: dict) -> Path:
    """Write `summary.json` into a run directory (atomically)."""
    target = path / "summary.json"
    try:
        write_atomic(target, orjson.dumps(summary, option=orjson.OPT_INDENT_2
                                          | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS))
    except OSError as e:
        raise FaultlabError(f"cannot write {target}: {e.strerror or e}") from None
    return target
