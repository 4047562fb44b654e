"""The CAP report's pictures (the plots extra): per experiment, each side's throughput over
time with the partition shaded; and one scatter of every experiment, availability against
consistency violations."""
from __future__ import annotations

from pathlib import Path

from faultlab.cap.report import ExperimentReport
from faultlab.checkers.availability import BUCKET_US
from faultlab.errors import FaultlabError

COLOURS = {"CP": "#3b7dd8", "AP": "#e0a030", "neither": "#d04040"}


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise FaultlabError("--plot needs matplotlib: pip install 'faultlab[plots]'") from None
    return plt


def draw_all(reports: list[ExperimentReport], where: Path) -> list[Path]:
    """A PNG per experiment and the scatter, in `where` (made if missing)."""
    plt = _pyplot()
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FaultlabError(f"cannot write to {where}: {e.strerror or e}") from None
    paths = [_throughput(plt, r, where / f"{r.experiment.key}.png") for r in reports]
    paths.append(_scatter(plt, reports, where / "cap-scatter.png"))
    return paths


def _save(plt, fig, path: Path) -> Path:
    try:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    except OSError as e:
        raise FaultlabError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        plt.close(fig)
    return path


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
    ax.set_title(f"{exp.protocol} {exp.label}: {exp.describe()} — {rep.classification}",
                 fontsize=9)
    ax.set_xlabel("simulated seconds")
    ax.set_ylabel(f"ok ops/s (mean of {len(runs)} runs)")
    ax.legend(fontsize=7, loc="upper right")
    return _save(plt, fig, path)


def _scatter(plt, reports: list[ExperimentReport], path: Path) -> Path:
    """x: share of runs with a consistency violation; y: the least available side."""
    fig, ax = plt.subplots(figsize=(7, 5))
    for rep in reports:
        available = rep.availability()
        if not available:
            continue
        x = rep.violated_runs() / len(rep.runs)
        y = min(available.values())
        ax.scatter([x], [y], color=COLOURS[rep.classification], s=40)
        exp = rep.experiment
        ax.annotate(f"{exp.protocol} {exp.label}\n{exp.shape}"
                    + (f" ({exp.placement})" if exp.placement else ""), (x, y), fontsize=5,
                    xytext=(3, 3), textcoords="offset points")
    for name, colour in COLOURS.items():
        ax.scatter([], [], color=colour, label=name)
    ax.set_xlabel("share of runs with a consistency violation")
    ax.set_ylabel("availability of the least available side")
    ax.set_xlim(-0.05, 1.1)
    ax.set_ylim(-0.05, 1.1)
    ax.legend(fontsize=8)
    ax.set_title("every experiment: availability against consistency", fontsize=9)
    return _save(plt, fig, path)
