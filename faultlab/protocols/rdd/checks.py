"""How an RDD run is judged: the jobs' results against their local evaluation, and the
driver's task log for minimal recomputation (checkers/lineage.py does the judging)."""
from __future__ import annotations

import functools

from faultlab.checkers.lineage import judge_recomputation, judge_results
from faultlab.checkers.verdict import Verdict
from faultlab.histories.record import RunRecord
from faultlab.protocols.rdd.jobs import bundled_jobs
from faultlab.protocols.rdd.lineage import INDETERMINATE, Shuffle
from faultlab.protocols.rdd.local import evaluate


@functools.cache
def oracle(name: str):
    """A bundled job's local result and the context of its complete execution: the
    lineage with each RDD's true determinism level (no planted bug changes either)."""
    return evaluate(bundled_jobs()[name])


def lineage_result(record: RunRecord) -> Verdict:
    completed = [(o.invoke.index, o.invoke.value[0], o.complete.type,
                  o.complete.value[1] if o.complete.type == "ok" else o.complete.error)
                 for o in record.history.operations()
                 if o.invoke.f == "job" and o.complete is not None
                 and o.complete.type in ("ok", "fail")]
    return judge_results(completed, lambda name: oracle(name)[0])


def minimal_recomputation(record: RunRecord) -> Verdict:
    state = record.states.get("driver")
    if state is None:
        return Verdict("minimal-recomputation", "unknown", "the driver was not running")
    log = list(dict(state)["log"])
    jobs = {o.invoke.index: o.invoke.value[0] for o in record.history.operations()
            if o.invoke.f == "job"}
    names = [jobs[i] for i in sorted(jobs)]  # the driver numbers jobs in arrival order

    def indeterminate(job: int, shuffle: int) -> bool:
        if not 1 <= job <= len(names):
            return False
        ctx = oracle(names[job - 1])[1]
        deps = [d for r in ctx.rdds for d in r.deps
                if isinstance(d, Shuffle) and d.id == shuffle]
        return bool(deps) and deps[0].parent.level == INDETERMINATE

    return judge_recomputation(log, indeterminate)
