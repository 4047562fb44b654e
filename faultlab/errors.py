"""The project's root error: bad input or an impossible configuration.

Every error a user can cause derives from `FaultlabError`; the CLI prints its message as one
line and exits 3. Nothing here imports the rest of faultlab, so every layer can raise it.
"""
from __future__ import annotations


class FaultlabError(Exception):
    """Bad input or impossible configuration; the message names what is wrong, in one line."""


def one_line(message: str, limit: int = 400) -> str:
    """An error message as the CLI prints it: one line, and never a huge argument whole
    (the middle goes: the start names the place, the end the problem)."""
    line = " ".join(message.split())
    if len(line) <= limit:
        return line
    half = (limit - 5) // 2
    return line[:half] + " ... " + line[-half:]
