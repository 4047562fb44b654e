"""How an RDD run is judged: the jobs' results against their local evaluation, and the
driver's task log for minimal recomputation (checkers/lineage.py does the judging)."""
from __future__ import annotations

import dataclasses
import functools

import networkx as nx

from faultlab.checkers.lineage import judge_recomputation, judge_results, judge_truncation
from faultlab.checkers.verdict import Verdict
from faultlab.histories.record import RunRecord
from faultlab.protocols.rdd.dag import lineage_graph
from faultlab.protocols.rdd.jobs import bundled_jobs
from faultlab.protocols.rdd.lineage import INDETERMINATE, Shuffle
from faultlab.protocols.rdd.local import evaluate


@functools.cache
def oracle(name: str, words: int):
    """A bundled job's local result and the context of its complete execution: the
    lineage with each RDD's true determinism level (no planted bug changes either)."""
    return evaluate(bundled_jobs(words)[name])


def lineage_result(record: RunRecord) -> Verdict:
    completed = [(o.invoke.index, o.invoke.value[0], o.complete.type,
                  o.complete.value[1] if o.complete.type == "ok" else o.complete.error)
                 for o in record.history.operations()
                 if o.invoke.f == "job" and o.complete is not None
                 and o.complete.type in ("ok", "fail")]
    words = record.config["words"]
    verdict = judge_results(completed, lambda name: oracle(name, words)[0])
    if verdict.failed:  # tell the failing job's lineage, what it lost and what reran
        jobs = sorted(o.invoke.index for o in record.history.operations()
                      if o.invoke.f == "job")
        number = jobs.index(verdict.ops[0]) + 1
        state = record.states.get("driver")
        log = list(dict(state)["log"]) if state is not None else []
        ctx = oracle(verdict.anomalies["job"], words)[1]
        verdict = dataclasses.replace(verdict, witness=_story(ctx, log, number))
    return verdict


def _story(ctx, log: list, job: int) -> list[dict]:
    """The failing job's lineage, the losses during it and the tasks that reran."""
    chain = []
    for r in ctx.rdds:
        arrow = "⇒" if any(isinstance(d, Shuffle) for d in r.deps) else "→"
        chain.append(f"{arrow if r.deps else ''} {r.id} {r.op} ({r.level})".strip())
    lost = [f"shuffle {e[3]} output {e[4]} ({e[5]}, t={e[0] / 1e6:.3f}s)"
            for e in log if e[1] == "output-lost" and e[2] == job]
    lost += [f"local checkpoint of RDD {e[3]} partition {e[4]} (t={e[0] / 1e6:.3f}s)"
             for e in log if e[1] == "block-lost" and e[2] == job]
    reran = sorted({f"{e[4]} {'shuffle' if e[4] == 'map' else 'RDD'} {e[5]} partition {e[6]}"
                    for e in log if e[1] == "launch" and e[2] == job and e[7] > 0})
    return [{"anomaly": "lineage", "why": " ".join(chain)},
            {"anomaly": "lost", "why": "; ".join(lost) or "nothing"},
            {"anomaly": "reran", "why": "; ".join(reran) or "nothing"}]


def _job_names(record: RunRecord) -> list[str]:
    """The jobs in the order the driver numbered them (the order they were submitted)."""
    return [o.invoke.value[0] for o in sorted(record.history.operations(),
                                              key=lambda o: o.invoke.index)
            if o.invoke.f == "job"]


def checkpoint_truncates(record: RunRecord) -> Verdict:
    state = record.states.get("driver")
    if state is None:
        return Verdict("checkpoint-truncates", "unknown", "the driver was not running")
    names, words = _job_names(record), record.config["words"]

    def ctx(job: int):
        return oracle(names[job - 1], words)[1]

    def behind(job: int, action: int, sid: int, rdd: int) -> bool:
        c = ctx(job)
        graph = lineage_graph(c.rdds)
        parent = next(d.parent.id for r in c.rdds for d in r.deps
                      if isinstance(d, Shuffle) and d.id == sid)
        target = c.actions[action][0]
        if rdd == parent or not nx.has_path(graph, parent, rdd):
            return False
        graph.remove_node(rdd)
        return not nx.has_path(graph, parent, target)

    return judge_truncation(list(dict(state)["log"]),
                            lambda job, rdd: ctx(job).rdds[rdd].partitions, behind)


def minimal_recomputation(record: RunRecord) -> Verdict:
    state = record.states.get("driver")
    if state is None:
        return Verdict("minimal-recomputation", "unknown", "the driver was not running")
    log = list(dict(state)["log"])
    names = _job_names(record)

    def indeterminate(job: int, shuffle: int) -> bool:
        if not 1 <= job <= len(names):
            return False
        ctx = oracle(names[job - 1], record.config["words"])[1]
        deps = [d for r in ctx.rdds for d in r.deps
                if isinstance(d, Shuffle) and d.id == shuffle]
        return bool(deps) and deps[0].parent.level == INDETERMINATE

    return judge_recomputation(log, indeterminate)
