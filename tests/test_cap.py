"""The CAP report: sided clients, partition shapes placed by role, per-side measures, and
the classification each protocol must earn (Raft CP, sloppy Dynamo AP with stale reads,
two-phase commit blocking in doubt), plus the command line."""
from __future__ import annotations

import importlib.util
import json

import attrs
import pytest

from faultlab.campaign.runner import run
from faultlab.campaign.spec import RunSpec
from faultlab.cap.experiments import Experiment, experiments
from faultlab.cap.report import AVAILABLE, report, run_experiments
from faultlab.cli import main
from faultlab.histories import OK
from faultlab.nemesis.faults import Fault
from faultlab.nemesis.kinds import partition_links, partition_sides
from faultlab.nemesis.schedule import Schedule
from faultlab.sim.workload import Workload

RUNS = 4


def _cut(exp_reports, placement):
    return next(r for r in exp_reports if r.experiment.placement == placement)


def test_raft_minority_unavailable_majority_available_and_linearizable():
    reports = run_experiments(experiments("raft", shapes=("majority-minority",)), RUNS)
    for rep in reports:
        available = rep.availability()
        assert available["minority"] == 0.0, rep.evidence
        assert available["majority"] >= AVAILABLE, rep.evidence
        assert rep.violations() == {} and all(not r["unknown"] for r in rep.runs)
        assert rep.classification == "CP" and not rep.flags
    # with the leader cut off, the majority served only after electing a new one
    leader_cut = _cut(reports, "cut")
    majority = leader_cut.sides["majority"]
    assert majority["phases"]["during"]["ok"] > 0
    assert leader_cut.sides["minority"]["phases"]["during"]["ok"] < \
        leader_cut.sides["minority"]["phases"]["during"]["unknown"]


def test_dynamo_sloppy_is_available_on_both_sides_and_reads_stale():
    exps = experiments("dynamo", {"nodes": 5, "initial": 5}, "sloppy",
                       ("majority-minority",))
    (rep,) = run_experiments(exps, RUNS)
    available = rep.availability()
    assert set(available) == {"minority", "majority"}
    assert min(available.values()) >= AVAILABLE, rep.evidence
    stale = dict((label, (k, n)) for label, k, n in rep.rates())["stale reads"]
    assert stale[0] > 0 and stale[1] > 0
    assert rep.classification == "AP" and not rep.flags  # sloppy promises no fresh reads


def test_twopc_coordinator_cut_off_leaves_participants_blocked_in_doubt():
    exps = experiments("twopc", {}, "list-append", ("isolate-one",))
    rep = _cut(run_experiments(exps, RUNS), "cut")
    far = rep.sides["rest"]
    assert rep.availability()["rest"] == 0.0
    assert far["stuck"]["runs"] == RUNS and far["stuck"]["waits"] >= RUNS
    assert far["stuck"]["longest_us"] >= rep.experiment.hold_us // 2
    assert rep.sides["isolated"]["stuck"]["waits"] == 0  # the coordinator itself is not
    assert rep.classification == "CP" and not rep.flags and not rep.violations()


def test_sides_hold_members_not_spares():
    """Dynamo's default slots are 7 with 5 members: the cut splits the members 2 / 3."""
    (rep,) = run_experiments(experiments("dynamo", {"quorum": "strict"}, "strict",
                                         ("majority-minority",)), 1)
    assert {label: s["size"] for label, s in rep.sides.items()} == {"minority": 2,
                                                                    "majority": 3}


def test_sided_clients_cannot_cross_the_cut_but_roaming_ones_can():
    """Thread 0 (processes 0, 11, 22, ...) starts at n1, which is cut off: attached there it
    gets nothing done during the cut; roaming, it follows redirects to the leader."""
    cut = Fault(1_000_000, "partition", 1_500_000, ("n1",), {"mode": "isolate"})
    spec = RunSpec("raft", seed=3, schedule=Schedule([cut]), heal_at_us=2_500_000,
                   recovery_us=500_000)
    workload = Workload(clients=10, timeout_us=500_000, keys=3)

    def thread0_ok_during_cut(sided: bool) -> int:
        result = run(attrs.evolve(spec, workload=attrs.evolve(workload, sided=sided)))
        return sum(1 for o in result.history.operations() if o.invoke.process % 11 == 0
                   and 1_300_000 <= o.invoke.time < 2_500_000
                   and o.complete is not None and o.complete.type == OK)

    assert thread0_ok_during_cut(sided=True) == 0  # redirects and retries lost on the way
    assert thread0_ok_during_cut(sided=False) > 0


def test_partition_targets_size_and_complement_place_the_leader():
    minority = Fault(1_000_000, "partition", 500_000, ("!role:leader",),
                     {"mode": "halves", "size": 2})
    with_leader = attrs.evolve(minority, targets=("role:leader",))
    for fault, has_leader in ((minority, False), (with_leader, True)):
        result = run(RunSpec("raft", seed=1, schedule=Schedule([fault]),
                             heal_at_us=2_000_000))
        start = next(r for r in result.fault_log if r.phase == "start")
        leader = [a[1] for a in result.announcements
                  if a[2] == "leader-elected" and a[0] <= start.time][-1]
        assert len(start.nodes) == 2 and (leader in start.nodes) == has_leader


def test_partition_sides_match_the_links_each_shape_cuts():
    names = ("a", "b", "c", "d", "e")
    for mode, targets in (("halves", ("a", "b")), ("isolate", ("c",)),
                          ("one-way", ("a",)), ("bridge", ("a", "b", "c", "d", "e"))):
        sides = partition_sides(mode, targets, names)
        assert sorted(n for nodes in sides.values() for n in nodes) == list(names)
        links = partition_links(mode, targets, names)
        for label, nodes in sides.items():
            for other, far in sides.items():
                crossing = {(a, b) for a in nodes for b in far} & links
                if label == other or "bridge" in (label, other):
                    assert not crossing, (mode, label, other)
                elif mode != "one-way" or label == "mute":
                    assert crossing == {(a, b) for a in nodes for b in far}


def test_cut_exempt_puts_the_rdd_driver_on_one_side():
    exp = Experiment("rdd", "default", {}, "isolate-one", "cut", hold_us=1_000_000)
    result = run(exp.spec(2))
    start = next(r for r in result.fault_log if r.phase == "start")
    assert start.nodes == ("driver",) and result.ok
    plain = Fault(500_000, "partition", 500_000, ("driver",), {"mode": "isolate"})
    with pytest.raises(Exception, match="exempt"):
        run(RunSpec("rdd", schedule=Schedule([plain])))


def test_promises_are_held_against_the_measurement():
    """Plain-data runs: a majority side that never served breaks Raft's promise."""
    exp = Experiment("raft", "default", {}, "majority-minority", "cut")
    side = {"nodes": [], "settled": {"ok": 0, "fail": 0, "unknown": 10},
            "phases": {p: {"ok": 5, "fail": 0, "unknown": 5, "latency_us": [1000]}
                       for p in ("before", "during", "after")},
            "recovery_us": 2_000, "throughput": [1, 2]}
    runs = [{"seed": 0, "cut": True, "cut_at": 1, "heal_at": 2, "failures": {},
             "unknown": [], "liveness": True, "stats": {},
             "sides": {"minority": {**side, "nodes": ["n1", "n2"]},
                       "majority": {**side, "nodes": ["n3", "n4", "n5"]}}}]
    rep = report(exp, runs)
    assert rep.classification == "CP"
    assert rep.flags and "majority" in rep.flags[0]
    runs[0]["failures"] = {"linearizable": "op 3 saw a value never written"}
    rep = report(exp, runs)
    assert rep.classification == "neither" and len(rep.flags) == 2


def test_cap_command_prints_json_rows_and_bundles_that_replay(tmp_path, capsys):
    out = tmp_path / "store"
    with pytest.raises(SystemExit) as exit_:
        main(["cap", "raft", "--runs", "1", "--partition", "isolate-one", "--json",
              "--out", str(out), "--hold", "1.5"])
    assert exit_.value.code == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["placement"] for r in rows} == {"cut", "rest"}
    assert all(r["classification"] == "CP" and r["evidence"] for r in rows)
    assert {r["side"] for r in rows} == {"isolated", "rest"}
    bundles = sorted(out.glob("raft-*.json"))
    assert len(bundles) == 2 and json.loads((out / "summary.json").read_text())["rows"]
    with pytest.raises(SystemExit) as exit_:
        main(["replay", str(bundles[0])])
    assert exit_.value.code == 0


def test_cap_command_table_and_plots(tmp_path, capsys):
    args = ["cap", "dynamo", "--config", "nodes=5", "--config", "initial=5", "--runs", "1",
            "--partition", "one-way", "--out", str(tmp_path / "o"), "--plot",
            str(tmp_path / "png")]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    if importlib.util.find_spec("matplotlib") is None:
        assert exit_.value.code == 3 and "faultlab[plots]" in capsys.readouterr().err
        return
    out = capsys.readouterr().out
    assert "promises" in out and "mute (1)" in out and "classification" in out
    assert exit_.value.code in (0, 1)  # 1 only if a row measured worse than promised
    pngs = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert pngs == ["cap-scatter.png", "dynamo-nodes=5_initial=5-one-way.png"]


def test_a_planted_bug_is_flagged_worse_than_promised(tmp_path, capsys):
    """Acknowledging before replicating buys availability with lost adds: primary-backup
    moves from CP to AP, against its promise, and the command exits 1."""
    with pytest.raises(SystemExit) as exit_:
        main(["cap", "primary-backup", "--bug", "ack-before-replicate", "--partition",
              "isolate-one", "--runs", "2", "--json", "--out", str(tmp_path)])
    rows = json.loads(capsys.readouterr().out)
    assert exit_.value.code == 1
    assert all(r["bugs"] == ["ack-before-replicate"] and r["classification"] == "AP"
               and "set" in r["flags"][0] for r in rows)


@pytest.mark.parametrize("args, message", [
    ([], "name a PROTOCOL or pass --all"),
    (["--all", "--config", "nodes=3"], "--config needs a PROTOCOL"),
    (["--all", "--bug", "figure8"], "--bug needs a PROTOCOL"),
    (["raft", "--bug", "nosuch"], "no planted bug 'nosuch'"),
    (["nosuch"], "unknown protocol"),
    (["raft", "--hold", "nan"], "--hold must be"),
    (["raft", "--config", "nodes=0"], "nodes"),
    (["raft", "--partition", "ring"], "ring"),
    (["raft", "--config", "nodes=1"], "1 node(s) to partition: too few for any"),
    (["raft", "--config", "nodes=2", "--partition", "bridge"], "too few for a bridge"),
])
def test_cap_command_refuses_bad_input_in_one_line(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["cap", *args])
    err = capsys.readouterr().err
    assert exit_.value.code == 3 and message in err and len(err.strip().splitlines()) == 1


def test_cap_command_refuses_an_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for option in ("--out", "--plot"):
        with pytest.raises(SystemExit) as exit_:
            main(["cap", "raft", "--runs", "1", option, str(blocker / "sub")])
        err = capsys.readouterr().err
        assert exit_.value.code == 3 and ("cannot write" in err or "faultlab[plots]" in err)
