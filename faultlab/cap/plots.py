"""The CAP report's pictures (the plots extra): per experiment, each side's throughput over
time with the partition shaded; and one scatter of every experiment, availability against
consistency violations."""
from __future__ import annotations

from pathlib import Path

from faultlab.cap.report import ExperimentReport
from faultlab.checkers.availability import BUCKET_US
from faultlab.errors import FaultlabError
from faultlab.plotting import pyplot, save

MARKERS = {"CP": "o", "AP": "^", "neither": "x"}


def draw_all(reports: list[ExperimentReport], where: Path) -> list[Path]:
    """A PNG per experiment and the scatter, in `where` (made if missing)."""
    plt = pyplot("--plot")
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FaultlabError(f"cannot write to {where}: {e.strerror or e}") from None
    paths = [_throughput(plt, r, where / f"{r.experiment.key}.png") for r in reports]
    paths.append(_scatter(plt, reports, where / "cap-scatter.png"))
    return paths


def _throughput(plt, rep: ExperimentReport, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 3))
    runs = rep.cut_runs
    for label, side in rep.sides.items():
        if side["clients"]:
            xs = [i * BUCKET_US / 1e6 for i in range(len(side["throughput"]))]
            ax.plot(xs, side["throughput"], label=f"{label} ({side['size']} nodes)")
    if runs:
        cut = sorted(r["cut_at"] for r in runs)[len(runs) // 2] / 1e6
        ax.axvspan(cut, runs[0]["heal_at"] / 1e6, color="#999999", alpha=0.25,
                   label="partition")
    exp = rep.experiment
    ax.set_title(f"{exp.configuration}: {exp.describe()} — {rep.classification}",
                 fontsize=9)
    ax.set_xlabel("simulated seconds")
    ax.set_ylabel(f"ok ops/s (mean of {len(runs)} runs)")
    ax.legend(fontsize=7, loc="upper right")
    return save(fig, path)


def _scatter(plt, reports: list[ExperimentReport], path: Path) -> Path:
    """x: share of runs with a consistency violation; y: the least available side. Colour
    is the protocol, the marker the classification; points that coincide are spread a
    little so each shows."""
    fig, ax = plt.subplots(figsize=(7, 5))
    protocols = sorted({r.experiment.protocol for r in reports})
    palette = plt.get_cmap("tab10")
    taken: dict[tuple, int] = {}
    for rep in reports:
        available = rep.availability()
        if not available:
            continue
        x = rep.violated_runs() / len(rep.runs)
        y = min(available.values())
        spot = (round(x, 2), round(y, 2))
        k = taken[spot] = taken.get(spot, -1) + 1
        ax.scatter([x + 0.012 * (k % 5)], [y - 0.012 * (k // 5)], s=30,
                   marker=MARKERS[rep.classification],
                   color=palette(protocols.index(rep.experiment.protocol)))
    for i, name in enumerate(protocols):
        ax.scatter([], [], color=palette(i), label=name)
    for name, marker in MARKERS.items():
        ax.scatter([], [], color="black", marker=marker, label=name)
    ax.set_xlabel("share of runs with a consistency violation")
    ax.set_ylabel("availability of the least available side")
    ax.set_xlim(-0.05, 1.15)
    ax.set_ylim(-0.1, 1.1)
    ax.legend(fontsize=7, loc="center")
    ax.set_title(f"{len(reports)} experiments: availability against consistency", fontsize=9)
    return save(fig, path)
