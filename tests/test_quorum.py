"""`faultlab quorum`: z3's verdicts on quorum intersection agree with enumerating every
quorum (and every partition, for sloppy quorums) for N <= 5, and the command's exit codes."""
from __future__ import annotations

import itertools

import pytest
from click.testing import CliRunner

from faultlab.checkers.quorum import check_quorums
from faultlab.cli import cli


def _disjoint_quorums(n: int, q1: int, q2: int, sloppy: bool, members: int) -> bool:
    """Whether some quorum of q1 and some of q2 share no member, by enumeration: strict
    quorums are subsets of the N owners; a sloppy quorum is a subset of the first N members
    one side of a partition reaches (so any set of at most N members can be the targets)."""
    nodes = range(members)
    if sloppy:
        targets = [set(t) for k in range(n + 1) for t in itertools.combinations(nodes, k)]
    else:
        targets = [set(range(n))]
    for t1, t2 in itertools.product(targets, repeat=2):
        for quorum in itertools.combinations(sorted(t1), q1):
            if len(t2 - set(quorum)) >= q2:
                return True
    return False


CASES = [(n, r, w, sloppy) for n in range(1, 6) for r in range(1, n + 1)
         for w in range(1, n + 1) for sloppy in (False, True)]


@pytest.mark.parametrize("n, r, w, sloppy", CASES)
def test_z3_agrees_with_enumerating_the_quorums(n, r, w, sloppy):
    members = n + 2 if sloppy else n
    read, write = check_quorums(n, r, w, sloppy)
    assert read.proved == (not _disjoint_quorums(n, w, r, sloppy, members))
    assert write.proved == (not _disjoint_quorums(n, w, w, sloppy, members))
    for p in (read, write):  # a refutation's witness is a real pair of disjoint quorums
        if not p.proved:
            a, b = p.witness["first"], p.witness["second"]
            assert not set(a["quorum"]) & set(b["quorum"])
            assert set(a["quorum"]) <= set(a["reaches"])
            if sloppy:  # drawn from the first N members each side reaches
                order = p.witness["members"]
                for side in (a, b):
                    first = sorted(side["reaches"], key=order.index)[:n]
                    assert set(side["quorum"]) <= set(first)


def test_strict_quorums_meet_exactly_when_r_plus_w_exceeds_n():
    assert all(p.proved for p in check_quorums(3, 2, 2))
    read, write = check_quorums(3, 1, 2)
    assert not read.proved and write.proved


def test_quorum_command_exit_codes_and_witness():
    runner = CliRunner()
    ok = runner.invoke(cli, ["quorum", "--n", "3", "--r", "2", "--w", "2"],
                       standalone_mode=False)
    assert ok.return_value == 0 and ok.output.count("proved") == 2
    refuted = runner.invoke(cli, ["quorum", "--n", "3", "--r", "2", "--w", "2", "--sloppy"],
                            standalone_mode=False)
    assert refuted.return_value == 1
    assert "refuted: members n1 n2 n3 n4 n5" in refuted.output
    assert "share no member" in refuted.output
