"""The CAP report: runs experiments over seeds, measures each side of each partition,
holds the consistency verdicts beside them, classifies each experiment as CP, AP or
neither with its evidence, and flags where a configuration measured worse than it
promised.

A run's consistency is the protocol's own checks (invariants and history checks; liveness
and measures aside) and the statistics it declares as violations (stale reads, lost
writes). An experiment is consistent when no run broke either. A side's availability is
the share of the ops its clients invoked in the second half of the partition that
completed ok before the heal, relative to its ok share before the cut (a cas that finds
another value fails in any weather); it is available at `AVAILABLE` or more. Then: CP,
consistent in every run (whatever it gave up); AP, inconsistent somewhere but available on
every side; neither, inconsistent and unavailable on some side.
"""
from __future__ import annotations

import statistics
from collections.abc import Callable

import attrs

from faultlab.cap.experiments import SHAPES, Experiment
from faultlab.checkers.availability import (
    OUTCOMES,
    PHASES,
    open_waits,
    percentile,
    share,
    side_measures,
)
from faultlab.nemesis.kinds import partition_sides
from faultlab.protocols import get_protocol
from faultlab.protocols.base import Promise

AVAILABLE = 0.9
NOT_CONSISTENCY = ("liveness", "measure")  # check categories that say nothing of consistency


def measure_run(doc: dict) -> dict:
    """Worker: one seed of one experiment, as plain data (sides measured, checks judged,
    violation counts, and the bundle when a check failed or `keep` asks for it)."""
    from faultlab.campaign.campaign import make_bundle
    from faultlab.campaign.runner import run

    exp = Experiment(**doc["experiment"])
    spec = exp.spec(doc["seed"])
    result = run(spec)
    protocol = get_protocol(exp.protocol)
    categories = {c.name: c.category for c in protocol.all_checks()}
    failures = {v.name: v.explanation for v in result.verdicts if v.valid is False
                and categories.get(v.name) not in NOT_CONSISTENCY}
    unknown = sorted(v.name for v in result.verdicts if v.valid not in (True, False))
    watched = {*protocol.violations, *(s for _, a, b in protocol.rates for s in (a, b))}
    out = {"seed": spec.seed, "fingerprint": result.fingerprint, "cut": False,
           "failures": failures, "unknown": unknown,
           "liveness": all(v.valid is not False for v in result.verdicts
                           if categories.get(v.name) == "liveness"),
           "stats": {k: v for k, v in result.stats.items() if k in watched},
           "bundle": make_bundle(result) if failures or doc.get("keep") else None}
    start = next((r for r in result.fault_log if r.phase == "start"), None)
    if start is None:
        return out  # the cut waited for an event that never came
    names, _ = exp.cut_nodes()  # members only: spares that never joined stand nowhere
    rename = exp.side_names()
    mode = spec.schedule.faults[0].params["mode"]
    sides = {rename[label]: nodes
             for label, nodes in partition_sides(mode, start.nodes, names).items()}
    end = spec.heal_at_us + spec.recovery_us
    measured = side_measures(result.history, sides, start.time, spec.heal_at_us, end)
    blocking = protocol.cap_blocking
    if blocking is not None:  # stuck through the cut: open from mid-partition to the heal
        middle = start.time + (spec.heal_at_us - start.time) // 2
        waits = open_waits(result.announcements, blocking.opens, blocking.closes,
                           blocking.key, middle, spec.heal_at_us, end)
        for label, nodes in sides.items():
            mine = [w for n in nodes for w in waits.get(n, [])]
            measured[label]["stuck"] = {"nodes": sum(1 for n in nodes if n in waits),
                                        "waits": len(mine), "longest_us": max(mine, default=0)}
    out.update(cut=True, cut_at=start.time, heal_at=spec.heal_at_us, end=end, sides=measured)
    return out


@attrs.frozen
class ExperimentReport:
    """One experiment over its runs: per side the summed measures, the consistency
    verdicts, the promise, the classification and its evidence, and any flags."""

    experiment: Experiment
    promise: Promise
    runs: list[dict]
    sides: dict[str, dict]
    classification: str
    evidence: str
    flags: tuple[str, ...]

    @property
    def cut_runs(self) -> list[dict]:
        return [r for r in self.runs if r["cut"]]

    def violations(self) -> dict[str, int]:
        """Runs in which each consistency check failed, and the totals of each violation
        statistic."""
        out: dict[str, int] = {}
        for r in self.runs:
            for name in r["failures"]:
                out[name] = out.get(name, 0) + 1
        for stat in get_protocol(self.experiment.protocol).violations:
            total = sum(r["stats"].get(stat, 0) for r in self.runs)
            if total:
                out[stat] = total
        return out

    def violated_runs(self) -> int:
        """Runs with a failed consistency check or a violation counted."""
        stats = get_protocol(self.experiment.protocol).violations
        return sum(1 for r in self.runs if r["failures"]
                   or any(r["stats"].get(s) for s in stats))

    def availability(self) -> dict[str, float]:
        """Each side with clients: its availability (settled ok share over the ok share
        before the cut, at most 1)."""
        out = {}
        for label, s in self.sides.items():
            if not (s["clients"] and sum(s["settled"].values())):
                continue
            base = share(s["phases"]["before"]) or 1.0
            out[label] = min(1.0, (share(s["settled"]) or 0.0) / base)
        return out

    def rates(self) -> list[tuple[str, int, int]]:
        """(label, numerator, denominator) summed over the runs, for each declared rate."""
        out = []
        for label, num, den in get_protocol(self.experiment.protocol).rates:
            d = sum(r["stats"].get(den, 0) for r in self.runs)
            if d:
                out.append((label, sum(r["stats"].get(num, 0) for r in self.runs), d))
        return out

    def consistency_text(self) -> str:
        """e.g. 'linearizable, no-lost-writes, 4 invariants held in all 10 runs' or
        'stale reads 1,200 of 8,000 (15.0%); durability failed in 3 of 10 runs'."""
        n = len(self.runs)
        parts = []
        rates = {label: (k, d) for label, k, d in self.rates()}
        violation_stats = set(get_protocol(self.experiment.protocol).violations)
        shown = set()
        for name, count in self.violations().items():
            if name in violation_stats:
                label = next((lb for lb, num, _ in get_protocol(self.experiment.protocol)
                              .rates if num == name), name)
                k, d = rates.get(label, (count, 0))
                if (k, d) in shown:  # the same reads twice: a cart's stale reads are
                    continue         # all its non-linearizable ones
                shown.add((k, d))
                parts.append(f"{label} {k:,} of {d:,} ({k / d:.1%})" if d
                             else f"{name} {count:,}")
            else:
                parts.append(f"{name} failed in {count} of {n} runs")
        unknown = sorted({u for r in self.runs for u in r["unknown"]})
        if unknown:
            parts.append(f"{', '.join(unknown)} unknown in some runs")
        return "; ".join(parts) if parts else f"{self.judged()} held in all {n} runs"

    def judged(self) -> str:
        """What consistency means here, e.g. 'linearizable, no-lost-writes, 4 invariants'
        (and the violation statistics counted, with none)."""
        protocol = get_protocol(self.experiment.protocol)
        checks = protocol.all_checks()
        named = [c.name for c in checks if c.category == "history"]
        invariants = sum(1 for c in checks if c.category == "invariant")
        named += [f"{invariants} invariants"] if invariants else []
        labels = {num: label for label, num, _ in protocol.rates}
        named += [f"no {labels.get(s, s)}" for s in protocol.violations]
        return ", ".join(named)

    def to_rows(self) -> list[dict]:
        """One row per side: the JSON shape of the table."""
        exp = self.experiment
        rows = []
        for label, side in self.sides.items():
            rows.append({
                "protocol": exp.protocol, "bugs": list(exp.bugs),
                "configuration": exp.label, "config": exp.config,
                "experiment": exp.describe(), "shape": exp.shape,
                "placement": exp.placement, "side": label, "size": side["size"],
                "nodes": side["nodes"],
                "runs": len(self.runs), "runs_cut": len(self.cut_runs),
                "clients": side["clients"],
                "availability": {p: _shares(side["phases"][p]) for p in PHASES}
                | {"settled": share(side["settled"]) if side["clients"] else None,
                   "relative": self.availability().get(label)},
                "latency_ms": {p: _latency(side["phases"][p]["latency_us"])
                               for p in ("during", "after")},
                "recovery_ms": _recovery(side["recovery_us"]),
                "stuck": None if side["stuck"] is None else {
                    "what": get_protocol(exp.protocol).cap_blocking.label,
                    "runs": side["stuck"]["runs"], "waits": side["stuck"]["waits"],
                    "longest_ms": _ms(side["stuck"]["longest_us"])},
                "consistency": {"consistent": not self.violations(),
                                "violations": self.violations(),
                                "rates": {label: {"count": k, "of": d}
                                          for label, k, d in self.rates()},
                                "text": self.consistency_text()},
                "liveness_after_heal": all(r["liveness"] for r in self.runs),
                "promise": attrs.asdict(self.promise),
                "classification": self.classification, "evidence": self.evidence,
                "flags": list(self.flags),
            })
        return rows


def side_cells(row: dict) -> dict[str, str]:
    """A JSON row's cells as the table and docs/cap.md show them."""
    during, latency = row["availability"]["during"], row["latency_ms"]
    recovered, stuck = row["recovery_ms"]["median"], row["stuck"]
    shares = {o: _pct(during[o]) for o in OUTCOMES} if during["ops"] else \
        {"ok": "no clients", "fail": "", "unknown": ""}
    return {"side": f"{row['side']} ({row['size']})", **shares,
            "available": _pct(row["availability"]["relative"]),
            "cut": _ms_pair(latency["during"]), "healed": _ms_pair(latency["after"]),
            "recovered": "-" if recovered is None else f"{recovered:g} ms",
            "stuck": "-" if not stuck or not stuck["waits"] else
            f"{stuck['waits']} {stuck['what']} in {stuck['runs']}/{row['runs']} runs, "
            f"≤{stuck['longest_ms'] / 1e3:.1f} s"}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _ms_pair(d: dict) -> str:
    return "-" if d["p50"] is None else f"{d['p50']:g} / {d['p99']:g}"


def report(exp: Experiment, runs: list[dict]) -> ExperimentReport:
    """Sum an experiment's runs and judge them."""
    protocol = get_protocol(exp.protocol)
    promise = protocol.cap_promise(protocol.resolve_config(exp.config))
    runs = sorted(runs, key=lambda r: r["seed"])
    sides = _sum_sides(exp, [r for r in runs if r["cut"]])
    draft = ExperimentReport(exp, promise, runs, sides, "", "", ())
    classification, evidence = _classify(draft)
    return attrs.evolve(draft, classification=classification, evidence=evidence,
                        flags=_flags(draft))


def _sum_sides(exp: Experiment, runs: list[dict]) -> dict[str, dict]:
    labels = list(SHAPES[exp.shape][2].values())
    sides: dict[str, dict] = {}
    for label in labels:
        mine = [r["sides"][label] for r in runs if label in r["sides"]]
        if not mine:
            continue
        phases = {p: {**{o: sum(s["phases"][p][o] for s in mine) for o in OUTCOMES},
                      "latency_us": [x for s in mine for x in s["phases"][p]["latency_us"]]}
                  for p in PHASES}
        width = max(len(s["throughput"]) for s in mine)
        sides[label] = {
            "size": len(mine[0]["nodes"]),
            "nodes": sorted({n for s in mine for n in s["nodes"]}),  # which, varies by run
            "clients": sum(phases[p][o] for p in PHASES for o in OUTCOMES) > 0,
            "phases": phases,
            "settled": {o: sum(s["settled"][o] for s in mine) for o in OUTCOMES},
            "recovery_us": [s["recovery_us"] for s in mine],
            "stuck": {"runs": sum(1 for s in mine if s.get("stuck", {}).get("nodes")),
                      "waits": sum(s.get("stuck", {}).get("waits", 0) for s in mine),
                      "longest_us": max((s.get("stuck", {}).get("longest_us", 0)
                                         for s in mine), default=0)}
            if any("stuck" in s for s in mine) else None,
            # mean ok completions per second, per bucket, over the runs
            "throughput": [sum(s["throughput"][i] for s in mine if i < len(s["throughput"]))
                           * 10 / len(mine) for i in range(width)],
        }
    return sides


def _classify(rep: ExperimentReport) -> tuple[str, str]:
    if not rep.cut_runs:
        return "neither", "the partition never struck (its trigger never came)"
    settled = rep.availability()
    shown = ", ".join(f"{label} {a:.0%}" for label, a in settled.items())
    consistent = not rep.violations()
    text = rep.consistency_text()
    down = [label for label, a in settled.items() if a < AVAILABLE]
    if consistent:
        if down:
            return "CP", f"{', '.join(down)} unavailable ({shown} available); {text}"
        return "CP", f"available on every side ({shown}) and {text}: this cut forced no choice"
    if not down:
        return "AP", f"available on every side ({shown}); {text}"
    return "neither", f"{', '.join(down)} unavailable ({shown} available); {text}"


def _flags(rep: ExperimentReport) -> tuple[str, ...]:
    """Where the measurement is worse than the configuration's promise."""
    promise, flags = rep.promise, []
    broken = promise.broken(rep.violations())
    if broken:
        flags.append(f"promised {', '.join(broken)} clean, measured {rep.consistency_text()}")
    settled = rep.availability()
    if promise.available == "every":
        down = [f"{label} {a:.0%}" for label, a in settled.items()
                if a < AVAILABLE and rep.sides[label]["size"] >= promise.min_side]
        if down:
            at_least = f" of {promise.min_side}+ nodes" if promise.min_side > 1 else ""
            flags.append(f"promised every side{at_least} available, measured "
                         f"{', '.join(down)}")
    elif promise.available == "majority":
        members = sum(s["size"] for s in rep.sides.values())
        for label, a in settled.items():
            if 2 * rep.sides[label]["size"] > members and a < AVAILABLE:
                flags.append(f"promised the majority side available, measured {label} "
                             f"{a:.0%}")
    return tuple(flags)


def _shares(counts: dict) -> dict:
    n = sum(counts[o] for o in OUTCOMES)
    return {"ops": n, **{o: (counts[o] / n if n else None) for o in OUTCOMES}}


def _latency(values: list[int]) -> dict:
    return {"p50": _ms(percentile(values, 50)), "p99": _ms(percentile(values, 99))}


def _recovery(values: list) -> dict:
    got = [v for v in values if v is not None]
    return {"median": _ms(int(statistics.median(got))) if got else None,
            "max": _ms(max(got)) if got else None,
            "never": len(values) - len(got)}


def _ms(us: int | None) -> float | None:
    return None if us is None else round(us / 1e3, 1)


def run_experiments(exps: list[Experiment], runs: int, first_seed: int = 0, jobs: int = 1,
                    executor=None, on_run: Callable[[dict], None] | None = None,
                    keep_first: bool = True) -> list[ExperimentReport]:
    """Every experiment over `runs` seeds, on a process pool of `jobs` (or `executor`);
    `on_run` sees each run as it finishes. The first seed of each keeps its bundle."""
    from faultlab.campaign.campaign import run_all

    docs = [{"experiment": {**attrs.asdict(e)}, "seed": s, "index": i,
             "keep": keep_first and s == first_seed}
            for i, e in enumerate(exps) for s in range(first_seed, first_seed + runs)]
    by_index: dict[int, list[dict]] = {i: [] for i in range(len(exps))}

    def worker_done(r: dict) -> None:
        if on_run is not None:
            on_run(r)

    results = run_all(_indexed, docs, jobs=jobs, executor=executor, on_result=worker_done)
    for r in results:
        by_index[r["index"]].append(r)
    return [report(e, by_index[i]) for i, e in enumerate(exps)]


def _indexed(doc: dict) -> dict:
    return {**measure_run(doc), "index": doc["index"]}
