"""The bundled jobs, written the way Spark users write them, with their input files: word
count, PageRank, friend recommendations ("people you may know", from mutual friends) and
logistic regression over cached points — the classic MapReduce and Spark teaching jobs.
Inputs are generated from a fixed seed, so every run reads the same files."""
from __future__ import annotations

import functools
import math
import random
from operator import add

from faultlab.protocols.rdd.context import Job

# ---- word count --------------------------------------------------------------------------


def word_count(sc):
    return (sc.text_file("words.txt").flat_map(str.split).map(lambda w: (w, 1))
            .reduce_by_key(add).collect())


def words_file(words: int = 2_000, per_line: int = 10, vocabulary: int = 300,
               seed: int = 1) -> list[str]:
    """Lines of words drawn with Zipf-like frequencies, as natural text has them."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(vocabulary)]
    weights = [1 / (i + 1) for i in range(vocabulary)]
    drawn = rng.choices(vocab, weights, k=words)
    return [" ".join(drawn[i:i + per_line]) for i in range(0, words, per_line)]


# ---- PageRank ----------------------------------------------------------------------------


def parse_edge(line: str) -> tuple[str, str]:
    src, dst = line.split()
    return src, dst


def spread(entry):
    """A page's rank, shared among the pages it links to."""
    _, (neighbours, rank) = entry
    return [(dst, rank / len(neighbours)) for dst in neighbours]


def pagerank(sc, iterations: int = 10):
    links = sc.text_file("graph.txt").map(parse_edge).group_by_key().cache()
    ranks = links.map_values(lambda _: 1.0)
    for _ in range(iterations):
        contribs = links.join(ranks).flat_map(spread)
        ranks = contribs.reduce_by_key(add).map_values(lambda r: 0.15 + 0.85 * r)
    return ranks.collect()


def graph_file(pages: int = 40, links_per_page: int = 4, seed: int = 2) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for p in range(pages):
        for q in rng.sample([x for x in range(pages) if x != p], links_per_page):
            lines.append(f"p{p} p{q}")
    return lines


# ---- friend recommendations ---------------------------------------------------------------


def _parse_pair(line: str) -> tuple[int, int]:
    a, b = line.split()
    return int(a), int(b)


def _candidates(entry):
    """From one person's friend list: each pair of their friends shares a mutual friend
    (one count each way), and each friend is already a friend (None)."""
    person, friends = entry
    friends = sorted(set(friends))
    out = [((person, f), None) for f in friends]
    for i, a in enumerate(friends):
        for b in friends[i + 1:]:
            out += [((a, b), 1), ((b, a), 1)]
    return out


def _mutual(x, y):
    return None if x is None or y is None else x + y


def friend_recommendations(sc, top: int = 3):
    """For each person, the `top` people they are not friends with who share the most
    friends with them (ties by id)."""
    pairs = sc.text_file("friends.txt").map(_parse_pair)
    friends = pairs.flat_map(lambda ab: [ab, (ab[1], ab[0])]).group_by_key()
    mutual = friends.flat_map(_candidates).reduce_by_key(_mutual).filter(
        lambda kv: kv[1] is not None)
    return (mutual.map(lambda kv: (kv[0][0], (kv[0][1], kv[1]))).group_by_key()
            .map_values(lambda cs: [c for c, _ in sorted(cs, key=lambda c: (-c[1], c[0]))
                                    [:top]])
            .collect())


def friends_file(people: int = 60, friendships: int = 180, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    edges = set()
    while len(edges) < friendships:
        a, b = rng.sample(range(people), 2)
        edges.add((min(a, b), max(a, b)))
    return [f"{a} {b}" for a, b in sorted(edges)]


# ---- logistic regression ------------------------------------------------------------------


def _parse_point(line: str) -> tuple[float, list[float]]:
    y, *x = map(float, line.split())
    return y, [1.0, *x]  # a constant feature for the bias


def _gradient(w: list[float], point) -> list[float]:
    y, x = point
    margin = sum(wi * xi for wi, xi in zip(w, x))
    scale = 1 / (1 + math.exp(-margin)) - y
    return [scale * xi for xi in x]


def _add_vectors(a: list[float], b: list[float]) -> list[float]:
    return [x + y for x, y in zip(a, b)]


def logistic_regression(sc, iterations: int = 5, step: float = 1.0):
    """Gradient descent on cached points: one action per iteration."""
    points = sc.text_file("points.txt").map(_parse_point).cache()
    n = points.count()
    w = [0.0, 0.0, 0.0]
    for _ in range(iterations):
        grad = points.map(functools.partial(_gradient, list(w))).reduce(_add_vectors)
        w = [wi - step * gi / n for wi, gi in zip(w, grad)]
    return w


def points_file(points: int = 400, seed: int = 4) -> list[str]:
    """Two features, labels from a line with some noise."""
    rng = random.Random(seed)
    lines = []
    for _ in range(points):
        x1, x2 = rng.uniform(-1, 1), rng.uniform(-1, 1)
        y = 1.0 if x1 + 2 * x2 + rng.gauss(0, 0.3) > 0 else 0.0
        lines.append(f"{y} {x1:.6f} {x2:.6f}")
    return lines


# ---- jobs whose shape Spark's lineage bugs hurt --------------------------------------------


def distinct_after_repartition(sc):
    """SPARK-23207's shape: an unordered shuffle output spread round-robin, then counted."""
    counts = sc.text_file("words.txt").flat_map(str.split).map(lambda w: (w, 1)).reduce_by_key(add)
    return counts.repartition(6).map(lambda kv: kv[0]).distinct().count()


def salted_word_count(sc, salts: int = 4):
    """Word count with salted keys, as users spread a skewed key: a random salt per record,
    counted per (word, salt), then per word. The salt is random, the counts are not."""
    pairs = sc.text_file("words.txt").flat_map(str.split).map(lambda w: (w, 1))
    salted = pairs.map_random(lambda kv, rng: ((kv[0], rng.randrange(salts)), kv[1]))
    partial = salted.reduce_by_key(add)
    return partial.map(lambda kv: (kv[0][0], kv[1])).reduce_by_key(add).collect()


def salted_total(sc, salts: int = 4):
    """The number of words, summed over the counts of (word, random salt) keys: the result
    stage reads the randomly keyed shuffle itself."""
    pairs = sc.text_file("words.txt").flat_map(str.split).map(lambda w: (w, 1))
    salted = pairs.map_random(lambda kv, rng: ((kv[0], rng.randrange(salts)), kv[1]))
    # more reduce partitions than task slots: the result stage runs in waves
    return salted.reduce_by_key(add, 16).map(lambda kv: kv[1]).reduce(add)


def checkpoint_consistency(sc):
    """A random tag per word, checkpointed; two actions count each tag. Both must see the
    same tags, so the two counts add up to the number of words."""
    tagged = sc.text_file("words.txt").flat_map(str.split).map_random(
        lambda w, rng: (w, rng.randrange(2)))
    tagged.checkpoint()
    heads = tagged.filter(lambda kv: kv[1] == 0).count()
    tails = tagged.filter(lambda kv: kv[1] == 1).count()
    return heads + tails


def local_checkpoint_rounds(sc, rounds: int = 8):
    """Counts kept by a local checkpoint, read by several actions."""
    counts = (sc.text_file("words.txt").flat_map(str.split).map(lambda w: (w, 1))
              .reduce_by_key(add).local_checkpoint())
    return [counts.filter(lambda kv, r=r: kv[1] > r).count() for r in range(rounds)]


@functools.cache
def bundled_jobs(words: int = 2_000) -> dict[str, Job]:
    """The bundled jobs by name, with their inputs (`words` in each text of words)."""
    text = words_file(words)
    return {
        "word-count": Job("word-count", word_count, {"words.txt": text}),
        "pagerank": Job("pagerank", pagerank, {"graph.txt": graph_file()}),
        "friends": Job("friends", friend_recommendations, {"friends.txt": friends_file()}),
        "logistic-regression": Job("logistic-regression", logistic_regression,
                                   {"points.txt": points_file()}),
        "distinct-after-repartition": Job("distinct-after-repartition",
                                          distinct_after_repartition,
                                          {"words.txt": words_file(words, vocabulary=600)}),
        "salted-word-count": Job("salted-word-count", salted_word_count,
                                 {"words.txt": text}),
        "salted-total": Job("salted-total", salted_total, {"words.txt": text}),
        "checkpoint-consistency": Job("checkpoint-consistency", checkpoint_consistency,
                                      {"words.txt": text}),
        "local-checkpoint": Job("local-checkpoint", local_checkpoint_rounds,
                                {"words.txt": text}),
    }
