"""How a Raft run's history is judged: linearizability of the KV store and no lost appends."""
from __future__ import annotations

from faultlab.checkers.linearizability import check_linearizable
from faultlab.checkers.lost_appends import check_lost_appends
from faultlab.checkers.models import KVCas
from faultlab.checkers.verdict import Verdict
from faultlab.histories import Op
from faultlab.histories.record import RunRecord

LINEARIZABILITY_LIMIT_S = 5.0  # a harder history is reported as "unknown"


def linearizable(record: RunRecord) -> Verdict:
    return check_linearizable(record.history, KVCas(), time_limit=LINEARIZABILITY_LIMIT_S,
                              jobs=1)


def no_lost_writes(record: RunRecord) -> Verdict:
    return check_lost_appends(record.history, record.heal_at)


def kv_key(op: Op):
    """The key a KV op acts on (its value is [key, ...])."""
    return op.value[0] if isinstance(op.value, list) and op.value else None
