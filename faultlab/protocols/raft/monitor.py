"""Raft's safety properties (Figure 3 of the paper), checked after every step of a run."""
from __future__ import annotations

from typing import TYPE_CHECKING

from faultlab.protocols.raft.node import LEADER, RaftNode

if TYPE_CHECKING:
    from faultlab.sim.kernel import Simulator


class RaftMonitor:
    """Raft's safety properties (Figure 3 of the paper), checked incrementally.

    Nodes append observations to a journal they share (new log entries, becoming leader,
    commit advances, applied commands); after every step the monitor drains it and checks
    only what changed:

    - election-safety: at most one leader per term;
    - log-matching: an (index, term) pair always names the same command and the same
      predecessor term, so two logs agreeing on an entry agree on everything before it;
    - leader-completeness: an entry committed in term T is in the log of every leader of a
      term after T (checked when a leader is elected and when an entry commits);
    - state-machine-safety: no two nodes commit or apply different commands at one index,
      and the same command leaves its key with the same value everywhere.

    On a violation the callable's `__name__` is set to the property's name, so the kernel's
    violation text starts with it.
    """

    def __init__(self) -> None:
        self.__name__ = "raft-safety"
        self.leaders: dict[int, str] = {}          # term -> leader
        self.entries: dict[tuple, tuple] = {}      # (index, term) -> (prev term, command)
        self.committed: dict[int, list] = {}       # index -> [entry term, earliest term known]
        self.applied: dict[int, tuple] = {}        # index -> (node, command, value after)
        self.journal: list = []  # what adopted nodes observed since the last step
        self._boots = -1         # sim.boots when nodes were last adopted

    def __call__(self, sim: Simulator) -> str | None:
        if sim.boots != self._boots:  # a node (re)booted: register the log it recovered
            self._boots = sim.boots
            for name, node in sim.nodes.items():
                if node is not None and node.journal is None:
                    node.journal = self.journal
                    problem = self._adopt(name, node)
                    if problem:
                        return problem
        journal = self.journal
        if journal:
            problem = self._drain(sim, journal)
            journal.clear()  # in place: every adopted node holds this list
            return problem
        return None

    def _fail(self, prop: str, problem: str) -> str:
        self.__name__ = prop
        return problem

    def _adopt(self, name: str, node: RaftNode) -> str | None:
        """A node (re)booted: register the log it recovered."""
        base, log = node.base, node.log
        for k in range(1, len(log)):
            problem = self._entry(name, base + k, log[k][0], log[k - 1][0], log[k][1])
            if problem:
                return problem
        return None

    def _entry(self, name: str, i: int, t: int, prev_t: int, cmd) -> str | None:
        seen = self.entries.get((i, t))
        if seen is None:
            self.entries[(i, t)] = (prev_t, cmd)
        elif seen != (prev_t, cmd):
            return self._fail("log-matching",
                              f"{name} holds entry {i} of term {t} as {cmd!r} after term "
                              f"{prev_t}, but another log has it as {seen[1]!r} after term "
                              f"{seen[0]}")
        return None

    def _drain(self, sim: Simulator, events: list) -> str | None:
        for ev in events:
            kind, name = ev[0], ev[1]
            if kind == "entry":
                problem = self._entry(name, ev[2], ev[3], ev[4], ev[5])
            elif kind == "commit":
                problem = self._commit(sim, name, ev[2], ev[3], ev[4])
            elif kind == "apply":
                problem = self._apply(name, ev[2], ev[3], ev[4])
            elif kind == "counted":
                problem = self._counted(sim, name, ev[2], ev[3], ev[4])
            else:  # leader
                problem = self._leader(name, sim.nodes[name], ev[2])
            if problem:
                return problem
        return None

    def _leader(self, name: str, node: RaftNode, term: int) -> str | None:
        other = self.leaders.setdefault(term, name)
        if other != name:
            return self._fail("election-safety", f"{other} and {name} are both leader of "
                                                 f"term {term}")
        missing = self._missing(node, term)
        if missing:
            return self._fail("leader-completeness",
                              f"{name} became leader of term {term} without entry {missing[0]}"
                              f" (term {missing[1]}), committed in term {missing[2]}")
        return None

    def _missing(self, node: RaftNode, term: int):
        """The first committed entry (index, term, commit term) a leader of `term` lacks."""
        base, last, log = node.base, node.last_index(), node.log
        for i in sorted(self.committed):
            t, tc = self.committed[i]
            if tc >= term or i <= base:
                continue
            if i > last or log[i - base][0] != t:
                return (i, t, tc)
        return None

    def _commit(self, sim: Simulator, name: str, i: int, t: int, tc: int) -> str | None:
        known = self.committed.get(i)
        if known is None:
            self.committed[i] = [t, tc]
        else:
            if known[0] != t:
                return self._fail("state-machine-safety",
                                  f"{name} committed entry {i} of term {t}, but the entry of "
                                  f"term {known[0]} was committed there before")
            if tc < known[1]:
                known[1] = tc
            tc = known[1]
        for other, node in sim.nodes.items():
            if node is None or node.role != LEADER or node.term <= tc:
                continue
            if i > node.base and (i > node.last_index() or node.term_at(i) != t):
                return self._fail("leader-completeness",
                                  f"entry {i} (term {t}) was committed in term {tc}, but "
                                  f"{other}, leader of term {node.term}, does not hold it")
        return None

    def _counted(self, sim: Simulator, name: str, i: int, t: int, term: int) -> str | None:
        """A leader committed up to entry i (term t) by counting: a majority must hold it,
        in memory or, for a crashed node, on disk."""
        holders = []
        for other in sim.names:
            node = sim.nodes[other]
            if node is not None:
                has = i <= node.base or (i <= node.last_index() and node.term_at(i) == t)
            else:
                disk = sim.disks[other]
                snap = disk.get("snap")
                if snap is not None and i <= snap[0]:
                    has = True
                else:
                    e = disk.get(f"e{i}") if i <= disk.get("last", 0) else None
                    has = e is not None and e[0] == t
            if has:
                holders.append(other)
        if len(holders) * 2 <= len(sim.names):
            return self._fail("leader-completeness",
                              f"{name}, leader of term {term}, committed entry {i} (term {t}) "
                              f"but only {', '.join(holders)} hold it, not a majority: a "
                              "later leader can lack it")
        return None

    def _apply(self, name: str, i: int, cmd, value) -> str | None:
        seen = self.applied.get(i)
        if seen is None:
            self.applied[i] = (name, cmd, value)
            return None
        if seen[1] != cmd:
            return self._fail("state-machine-safety",
                              f"{name} applied {_show(cmd)} at index {i}, but {seen[0]} "
                              f"applied {_show(seen[1])} there")
        if seen[2] != value:
            return self._fail("state-machine-safety",
                              f"applying {_show(cmd)} at index {i} left key {cmd[3]!r} = "
                              f"{value!r} on {name} but {seen[2]!r} on {seen[0]}")
        return None


def _show(cmd) -> str:
    if cmd is None:
        return "no-op"
    client, seq, f, key, arg = cmd
    return f"{f} {key!r} {arg!r} ({client} #{seq})"
