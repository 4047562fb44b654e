"""A job's DAG: its lineage as a graph (networkx), and the stages an action runs in, cut at
shuffles as Spark's DAGScheduler cuts them: a stage pipelines the RDDs linked by narrow
dependencies; each shuffle it reads is written by a parent shuffle-map stage."""
from __future__ import annotations

import attrs
import networkx as nx

from faultlab.protocols.rdd.lineage import RDD, Shuffle


@attrs.frozen
class Stage:
    """One stage: its tasks compute the partitions of `rdd`; a shuffle-map stage writes
    `shuffle`'s buckets, the result stage (shuffle None) feeds the action."""

    id: int
    rdd: RDD
    shuffle: Shuffle | None
    parents: tuple[int, ...]   # stages whose shuffle output it reads
    rdds: tuple[int, ...]      # the RDDs it pipelines

    @property
    def kind(self) -> str:
        return "result" if self.shuffle is None else f"shuffle-map (shuffle {self.shuffle.id})"


def stages(final: RDD, cut=lambda rdd: False) -> list[Stage]:
    """The stages of an action on `final`, parents before children (each shuffle's map
    stage once). An RDD for which `cut` is true is read as it is (a complete reliable
    checkpoint): the lineage behind it is not planned."""
    out: list[Stage] = []
    by_shuffle: dict[int, Stage] = {}

    def build(rdd: RDD, shuffle: Shuffle | None) -> Stage:
        members, parents, stack, seen = [], set(), [rdd], set()
        while stack:
            r = stack.pop()
            if r.id in seen:
                continue
            seen.add(r.id)
            members.append(r.id)
            for dep in () if cut(r) else r.deps:
                if isinstance(dep, Shuffle):
                    if dep.id not in by_shuffle:
                        by_shuffle[dep.id] = build(dep.parent, dep)
                    parents.add(by_shuffle[dep.id].id)
                else:
                    stack.append(dep.parent)
        stage = Stage(len(out), rdd, shuffle, tuple(sorted(parents)), tuple(sorted(members)))
        out.append(stage)
        return stage

    build(final, None)
    return out


def lineage_graph(rdds: list[RDD]) -> nx.DiGraph:
    """RDDs as nodes (op, partitions, determinism level, storage), dependencies as edges from
    parent to child, marked narrow or wide (with the shuffle's id)."""
    g = nx.DiGraph()
    for r in rdds:
        g.add_node(r.id, op=r.op, label=r.label, partitions=r.partitions, level=r.level,
                   storage=r.storage, checkpointed=r.checkpointed)
    for r in rdds:
        for dep in r.deps:
            wide = isinstance(dep, Shuffle)
            g.add_edge(dep.parent.id, r.id, kind="wide" if wide else "narrow",
                       shuffle=dep.id if wide else None)
    return g
