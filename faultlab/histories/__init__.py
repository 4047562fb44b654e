"""Plain-data histories: ops, histories, file formats and repro bundles. No simulator imports.

The names below are imported on first use, so reading one history loads only what it needs.
"""
from faultlab.errors import FaultlabError
from faultlab.histories.errors import BundleError, HistoryError
from faultlab.histories.history import History, Operation
from faultlab.histories.op import FAIL, INFO, INVOKE, OK, Op

_LAZY = {"Bundle": "bundle", "load_bundle": "bundle", "write_atomic": "bundle",
         "write_bundle": "bundle", "read_jsonl": "jsonl", "write_jsonl": "jsonl"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"faultlab.histories.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'faultlab.histories' has no attribute {name!r}")


__all__ = [
    "Bundle", "BundleError", "FAIL", "FaultlabError", "History", "HistoryError", "INFO",
    "INVOKE", "OK", "Op", "Operation", "load_bundle", "read_jsonl", "write_atomic",
    "write_bundle", "write_jsonl",
]
