"""Errors raised for bad input: each message names the file, line and problem in one line."""
from __future__ import annotations

from faultlab.errors import FaultlabError


class HistoryError(FaultlabError):
    """A history that breaks Jepsen semantics or a file that cannot be parsed as one."""

    def __init__(self, problem: str, *, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        elif line is not None:
            where = f"line {line}: "
        super().__init__(where + problem)
        self.path, self.line, self.problem = path, line, problem


class BundleError(FaultlabError):
    """A repro bundle that is missing, unreadable, or has a bad field."""
