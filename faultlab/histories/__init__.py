"""Plain-data histories: ops, histories, file formats and repro bundles. No simulator imports."""
from faultlab.errors import FaultlabError
from faultlab.histories.bundle import Bundle, load_bundle, write_atomic, write_bundle
from faultlab.histories.errors import BundleError, HistoryError
from faultlab.histories.history import History, Operation
from faultlab.histories.jsonl import read_jsonl, write_jsonl
from faultlab.histories.op import FAIL, INFO, INVOKE, OK, Op

__all__ = [
    "Bundle", "BundleError", "FAIL", "FaultlabError", "History", "HistoryError", "INFO",
    "INVOKE", "OK", "Op", "Operation", "load_bundle", "read_jsonl", "write_atomic",
    "write_bundle", "write_jsonl",
]
