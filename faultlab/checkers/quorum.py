"""Quorum intersection, proved or refuted with z3: does every read quorum meet every write
quorum, and do two write quorums always meet, for N replicas, R and W?

Strict quorums are subsets of a key's N owners. Sloppy quorums are drawn the way Dynamo
draws them: each coordinator's side of a partition reaches some of the cluster's members,
its targets are the first N reachable members of the key's preference list (owners first,
then fallbacks), and a request completes with any R (or W) of them. A refutation is a
concrete membership and partition where the quorums miss each other.
"""
from __future__ import annotations

import attrs


@attrs.frozen
class Property:
    """One intersection property's outcome: proved, or refuted with a witness."""

    name: str
    proved: bool
    witness: dict | None = None  # side -> {"reaches": [...], "quorum": [...]}

    def describe(self) -> str:
        if self.proved:
            return f"{self.name}: proved"
        a, b = self.witness["first"], self.witness["second"]
        return (f"{self.name}: refuted: members {' '.join(self.witness['members'])} in "
                f"preference order ({self.witness['owners']} owners); {a['what']} on a side "
                f"reaching {_names(a['reaches'])} is acknowledged by {_names(a['quorum'])}; "
                f"{b['what']} on a side reaching {_names(b['reaches'])} "
                f"{'reads from' if 'read' in b['what'] else 'is acknowledged by'} "
                f"{_names(b['quorum'])}: they share no member")


def _names(nodes) -> str:
    return "{" + ", ".join(nodes) + "}"


def check_quorums(n: int, r: int, w: int, sloppy: bool = False,
                  members: int | None = None) -> list[Property]:
    """Both properties for one configuration. `members` is the cluster size (sloppy
    quorums reach past the N owners; default N + 2)."""
    members = (members or n + 2) if sloppy else n
    return [_intersect("every read quorum meets every write quorum", n, w, r, sloppy,
                       members, ("a write", "a later read")),
            _intersect("two write quorums always meet", n, w, w, sloppy, members,
                       ("a write", "a concurrent write"))]


def _intersect(name: str, n: int, q1: int, q2: int, sloppy: bool, members: int,
               what: tuple[str, str]) -> Property:
    import z3

    solver = z3.Solver()
    sides = []
    for side in ("first", "second"):
        reach = [z3.Bool(f"{side}-reaches-{i}") for i in range(members)]
        quorum = [z3.Bool(f"{side}-quorum-{i}") for i in range(members)]
        size = q1 if side == "first" else q2
        for i in range(members):
            if sloppy:  # a target: reached, and among the first N reached in order
                before = z3.Sum([z3.If(reach[j], 1, 0) for j in range(i)]) if i else 0
                target = z3.And(reach[i], before < n)
            else:       # every member is one of the N owners
                target = z3.BoolVal(True)
                solver.add(reach[i])
            solver.add(z3.Implies(quorum[i], target))
        solver.add(z3.Sum([z3.If(x, 1, 0) for x in quorum]) == size)
        sides.append((reach, quorum))
    (_, first), (_, second) = sides
    solver.add(z3.And([z3.Not(z3.And(first[i], second[i])) for i in range(members)]))
    if solver.check() == z3.unsat:
        return Property(name, True)
    model = solver.model()
    names = [f"n{i + 1}" for i in range(members)]

    def chosen(xs):
        return [names[i] for i, x in enumerate(xs) if z3.is_true(model.eval(x))]

    witness = {"members": names, "owners": n}
    for (reach, quorum), side, label in zip(sides, ("first", "second"), what):
        witness[side] = {"what": label, "reaches": chosen(reach), "quorum": chosen(quorum)}
    return Property(name, False, witness)
