"""Zave's ring properties (invariants.py), checked after every step that changed a pointer
or the membership."""
from __future__ import annotations

from typing import TYPE_CHECKING

from faultlab.protocols.chord.invariants import Snapshot, predecessor_moved_back
from faultlab.protocols.chord.store import stored_keys
from faultlab.protocols.common.ring import ring_ids

if TYPE_CHECKING:
    from faultlab.sim.kernel import Simulator


class ChordMonitor:
    """Nodes append their name to a journal the monitor shares with them whenever a
    pointer changes; after a step that journalled something, or changed the membership or
    booted a node, the monitor takes a snapshot of every live member that has joined (a
    crashed member's pointers from its disk) and checks the properties. On a violation the
    callable's `__name__` becomes the property's name."""

    def __init__(self, config: dict) -> None:
        self.__name__ = "chord-ring"
        self.m, self.r = config["m"], config["r"]
        self.principals = config["mode"] == "zave"
        self.journal: list = []
        self._boots = -1
        self._membership = -1
        self._preds: dict[str, str | None] = {}  # each member's predecessor last time

    def __call__(self, sim: Simulator) -> str | None:
        if not self.journal and sim.boots == self._boots \
                and sim.membership_changes == self._membership:
            return None  # nothing changed: most steps
        if sim.boots != self._boots:
            self._boots = sim.boots
            for node in sim.nodes.values():
                if node is not None and node.journal is None:
                    node.journal = self.journal
            self.journal.append(None)
        if sim.membership_changes != self._membership:
            self._membership = sim.membership_changes
            self.journal.append(None)
        if not self.journal:
            return None
        if any(sim.nodes[n] is None and sim.disks[n].get("ring") is None
               for n in sim.member_list()):
            return None  # the ring is still booting, one member after another
        self.journal.clear()
        now = snapshot(sim, self.m, self.r)
        found = now.violation(self.principals) or predecessor_moved_back(
            self._preds, now, sim.gone | sim.leaving)
        self._preds = {n: pred for n, (_, pred) in now.pointers.items()}
        if found is None:
            return None
        self.__name__, problem = found
        joining = [n for n in sim.member_list() if n not in now.pointers]
        also = f"; {' '.join(joining)} still joining" if joining else ""
        return f"{problem}; the members now: {now.describe()}{also}"


def why_not_depart(sim: Simulator, node: str, m: int, r: int) -> str | None:
    """Zave's operating assumption, judged on the ring as it is when a leave or failure
    strikes: `node` may go only if every other member keeps a live successor in its list,
    at least r+1 principals remain, and every key's newest copy stays on a live member
    (so fewer than r copies are ever lost before the ring repairs them). Nodes already
    leaving count as gone."""
    ring = snapshot(sim, m, r)
    going = sim.leaving | {node}
    staying = [n for n in ring.pointers if n not in going]
    for n in staying:
        if not any(s in ring.pointers and s not in going for s in ring.pointers[n][0]):
            return f"{n} would have no live successor"
    principals = [p for p in ring.principals() if p not in going]
    if len(principals) < r + 1:
        return f"only {len(principals)} principals would remain, fewer than r+1 = {r + 1}"
    newest: dict = {}  # key -> (newest version, its holders)
    for n in ring.pointers:
        for key, (version, _) in _store(sim, n).items():
            best = newest.get(key)
            if best is None or version > best[0]:
                newest[key] = (version, [n])
            elif version == best[0]:
                best[1].append(n)
    for key, (_, holders) in sorted(newest.items()):
        if all(h in going for h in holders):
            return f"the newest copy of key {key} is on {' '.join(holders)} only"
    return None


def _store(sim: Simulator, name: str) -> dict:
    node = sim.nodes[name]
    if node is not None:
        return node.store
    return stored_keys(sim.disks[name])


def snapshot(sim: Simulator, m: int, r: int) -> Snapshot:
    """The pointers of every live member that has joined, and of every node still handing
    over as it leaves (it answers until it is gone)."""
    pointers = {}
    for name in (*sim.member_list(), *sorted(sim.leaving)):
        node = sim.nodes[name]
        if node is not None:
            if node.joined:
                pointers[name] = (tuple(node.succ), node.pred)
        else:
            saved = sim.disks[name].get("ring")
            if saved is not None and saved[0]:
                pointers[name] = (tuple(saved[1]), saved[2])
    return Snapshot(pointers, ring_ids(sim.names, m), m, r)
