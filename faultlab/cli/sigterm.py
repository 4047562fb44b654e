"""SIGTERM, handled like Ctrl-C: the work in hand stops, cleans up and keeps what it saved."""
from __future__ import annotations


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM arrives."""


_received: list[bool] = [False]


def on_sigterm(signum, frame):
    _received[0] = True
    raise Terminated


def stop_if_terminated() -> None:
    """Raise a SIGTERM again at a safe point of a long loop: Python drops an exception a
    signal handler raises while a finalizer runs (measured: under load, one SIGTERM in a
    few was lost during a shrink)."""
    if _received[0]:
        raise Terminated
