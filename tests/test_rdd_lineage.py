"""The RDD model on its own: the bundled jobs' local results against independent plain
Python, determinism levels as Spark assigns them, stages cut at shuffles, round-robin
repartition with and without SPARK-23207's sort, and `faultlab lineage`."""
from __future__ import annotations

import importlib.util
import math
import random
from collections import Counter

import pytest

from faultlab.protocols.rdd import Context, Job, JobError, evaluate
from faultlab.protocols.rdd.dag import lineage_graph, stages
from faultlab.protocols.rdd.jobs import bundled_jobs
from faultlab.protocols.rdd.lineage import DETERMINATE, INDETERMINATE, UNORDERED, Shuffle

JOBS = bundled_jobs()


def test_word_count_equals_counting_the_words():
    result, _ = evaluate(JOBS["word-count"])
    words = [w for line in JOBS["word-count"].inputs["words.txt"] for w in line.split()]
    assert sorted(result) == sorted(Counter(words).items())


def test_pagerank_equals_plain_iteration_to_a_tolerance():
    result, _ = evaluate(JOBS["pagerank"])
    links: dict[str, list[str]] = {}
    for line in JOBS["pagerank"].inputs["graph.txt"]:
        src, dst = line.split()
        links.setdefault(src, []).append(dst)
    ranks = dict.fromkeys(links, 1.0)
    for _ in range(10):
        contribs: dict[str, float] = {}
        for page, outs in links.items():
            if page in ranks:
                for dst in outs:
                    contribs[dst] = contribs.get(dst, 0.0) + ranks[page] / len(outs)
        ranks = {page: 0.15 + 0.85 * c for page, c in contribs.items()}
    got = dict(result)
    assert got.keys() == ranks.keys()
    assert all(math.isclose(got[p], ranks[p], rel_tol=1e-9) for p in ranks)


def test_friend_recommendations_equal_counting_mutual_friends():
    result, _ = evaluate(JOBS["friends"])
    friends: dict[int, set[int]] = {}
    for line in JOBS["friends"].inputs["friends.txt"]:
        a, b = map(int, line.split())
        friends.setdefault(a, set()).add(b)
        friends.setdefault(b, set()).add(a)
    expected = {}
    for person, mine in friends.items():
        mutual = Counter(f2 for f in mine for f2 in friends[f]
                         if f2 != person and f2 not in mine)
        if mutual:
            expected[person] = [p for p, _ in sorted(mutual.items(),
                                                     key=lambda pc: (-pc[1], pc[0]))[:3]]
    assert dict(result) == expected


def test_logistic_regression_equals_plain_gradient_descent():
    w_rdd, ctx = evaluate(JOBS["logistic-regression"])
    points = []
    for line in JOBS["logistic-regression"].inputs["points.txt"]:
        y, x1, x2 = map(float, line.split())
        points.append((y, [1.0, x1, x2]))
    w = [0.0, 0.0, 0.0]
    for _ in range(5):
        grad = [0.0, 0.0, 0.0]
        for y, x in points:
            scale = 1 / (1 + math.exp(-sum(a * b for a, b in zip(w, x)))) - y
            grad = [g + scale * xi for g, xi in zip(grad, x)]
        w = [wi - gi / len(points) for wi, gi in zip(w, grad)]
    assert all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) for a, b in zip(w_rdd, w))
    assert [kind for _, kind, _ in ctx.actions] == ["count"] + ["collect"] * 5
    assert w_rdd[2] > w_rdd[1] > 0  # it learned the line x1 + 2 x2 = 0


def _levels(build):
    def job(sc):
        rdd = build(sc)
        rdd.collect()
        return {r.op: r.level for r in sc.rdds}
    return evaluate(Job("levels", job))[0]


def test_determinism_levels_follow_sparks_rules():
    base = [(i % 7, i) for i in range(50)]
    levels = _levels(lambda sc: sc.parallelize(base).map(lambda kv: kv).filter(bool)
                     .reduce_by_key(max).map_values(str).sample(0.5, seed=1))
    assert levels["parallelize"] == levels["map"] == levels["filter"] == DETERMINATE
    assert levels["reduce_by_key"] == levels["map_values"] == UNORDERED
    assert levels["sample"] == INDETERMINATE  # order-sensitive over unordered input
    assert _levels(lambda sc: sc.parallelize(base).sample(0.5))["sample"] == DETERMINATE
    levels = _levels(lambda sc: sc.parallelize(base).group_by_key().zip_with_index())
    assert levels["zip_with_index"] == INDETERMINATE
    levels = _levels(lambda sc: sc.parallelize(base).partition_by(3).repartition(5)
                     .sort_by_key())
    assert levels["repartition"] == UNORDERED and levels["sort_by_key"] == DETERMINATE
    levels = _levels(lambda sc: sc.parallelize(base).map_random(lambda r, rng: r)
                     .reduce_by_key(max))
    assert levels["map_random"] == levels["reduce_by_key"] == INDETERMINATE


def test_transformations_compute_what_they_say():
    def job(sc):
        a = sc.parallelize(range(10), 3)
        b = sc.parallelize([(1, "x"), (2, "y"), (2, "z")], 2)
        keyed = a.key_by(lambda x: x % 3)
        return {
            "union": a.union(a.map(lambda x: -x)).count(),
            "distinct": sorted(a.map(lambda x: x % 4).distinct().collect()),
            "join": sorted(keyed.join(b).collect()),
            "sorted": a.map(lambda x: (-x, x)).sort_by_key(partitions=3).collect(),
            "descending": [k for k, _ in a.key_by(lambda x: x).sort_by_key(False).collect()],
            "zipped": a.zip_with_index().collect(),
            "repartitioned": sorted(a.repartition(4).collect()),
            "partitions": [sc.parallelize(range(10), 3).repartition(4).partitions],
            "reduce": a.reduce(lambda x, y: x + y),
            "flat": a.flat_map(lambda x: [x] * (x % 2)).count(),
            "mapped": a.map_partitions(lambda rs: [sum(rs)]).collect(),
        }
    out, _ = evaluate(Job("all", job))
    assert out["union"] == 20 and out["distinct"] == [0, 1, 2, 3]
    assert out["join"] == [(1, (1, "x")), (1, (4, "x")), (1, (7, "x")), (2, (2, "y")),
                           (2, (2, "z")), (2, (5, "y")), (2, (5, "z")), (2, (8, "y")),
                           (2, (8, "z"))]
    assert [k for k, _ in out["sorted"]] == list(range(-9, 1))
    assert out["descending"] == list(range(9, -1, -1))
    assert out["zipped"] == [(x, x) for x in range(10)]
    assert out["repartitioned"] == list(range(10)) and out["partitions"] == [4]
    assert out["reduce"] == 45 and out["flat"] == 5
    assert out["mapped"] == [sum(range(0, 3)), sum(range(3, 6)), sum(range(6, 10))]


def test_stages_are_cut_at_shuffles():
    _, ctx = evaluate(JOBS["word-count"])
    plan = stages(ctx.rdds[ctx.actions[0][0]])
    assert [s.kind for s in plan] == ["shuffle-map (shuffle 0)", "result"]
    assert plan[0].rdds == (0, 1, 2) and plan[1].parents == (0,)
    _, ctx = evaluate(JOBS["pagerank"])
    plan = stages(ctx.rdds[ctx.actions[-1][0]])
    assert plan[-1].kind == "result"
    assert len(plan) == 1 + ctx.shuffles  # one map stage per shuffle, each once
    graph = lineage_graph(ctx.rdds)
    wide = [d for _, _, d in graph.edges(data=True) if d["kind"] == "wide"]
    assert len(wide) == ctx.shuffles
    assert graph.nodes[2]["storage"] == "memory"  # links is cached


@pytest.mark.parametrize("sort_first", [True, False])
def test_round_robin_depends_on_the_order_only_without_the_sort(sort_first):
    """SPARK-23207 in one partition: the same records in another order go to the same
    reduce partitions only if the map side sorts them first."""
    def job(sc):
        return sc.parallelize(range(40), 1).repartition(4).collect()
    _, ctx = evaluate(Job("rr", job))
    dep = next(d for r in ctx.rdds for d in r.deps if isinstance(d, Shuffle))
    dep.sort_first = sort_first
    records = list(range(40))
    shuffled = records[:]
    random.Random(5).shuffle(shuffled)
    first = [sorted(b) for b in dep.write(records, 0)]
    again = [sorted(b) for b in dep.write(shuffled, 0)]
    assert (first == again) == sort_first


def test_a_missing_input_file_is_named():
    with pytest.raises(JobError, match="no input file 'nope.txt'"):
        evaluate(Job("bad", lambda sc: sc.text_file("nope.txt").collect()))


def test_context_answers_actions_from_memory_and_numbers_rdds_the_same():
    ctx = Context({}, [7])
    rdd = ctx.parallelize([1, 2])
    assert rdd.count() == 7 and rdd.id == 0 and ctx.actions == [(0, "count", None)]


def test_lineage_command_prints_rdds_stages_and_draws(tmp_path, capsys):
    from faultlab.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["lineage", "friends"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert "group_by_key" in out and "wide ← 2" in out and "unordered" in out
    assert "stage 3: result, 4 tasks" in out
    with pytest.raises(SystemExit) as exit_:  # the PNG needs the plots extra
        main(["lineage", "friends", "--png", str(tmp_path / "f.png")])
    if importlib.util.find_spec("matplotlib") is not None:
        assert exit_.value.code == 0
        assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    else:
        assert exit_.value.code == 3 and "faultlab[plots]" in capsys.readouterr().err
        assert not (tmp_path / "f.png").exists()
    user = tmp_path / "myjob.py"
    user.write_text("from faultlab.protocols.rdd import Job\n"
                    "def count(sc):\n    return sc.text_file('a').count()\n"
                    "JOB = Job('mine', count, {'a': ['x', 'y']})\n")
    with pytest.raises(SystemExit) as exit_:
        main(["lineage", f"{user}:JOB"])
    assert exit_.value.code == 0 and "text_file a" in capsys.readouterr().out
    for bad, message in (("nojob", "unknown job 'nojob'"),
                         (f"{user}:MISSING", "defines no Job named 'MISSING'"),
                         ("/nonexistent.py:JOB", "no such job file")):
        with pytest.raises(SystemExit) as exit_:
            main(["lineage", bad])
        err = capsys.readouterr().err
        assert exit_.value.code == 3 and message in err and len(err.splitlines()) == 1
