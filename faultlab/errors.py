"""The project's root error: bad input or an impossible configuration.

Every error a user can cause derives from `FaultlabError`; the CLI prints its message as one
line and exits 3. Nothing here imports the rest of faultlab, so every layer can raise it.
"""
from __future__ import annotations


class FaultlabError(Exception):
    """Bad input or impossible configuration; the message names what is wrong, in one line."""
