"""`faultlab cap`: partition experiments with clients attached to nodes, measuring each
side's availability beside the protocol's consistency checks, one table for one protocol
or all of them, each experiment classed CP, AP or neither with its evidence. Exit 1 when a
configuration measured worse than it promises."""
from __future__ import annotations

import contextlib
import shlex
import sys
from pathlib import Path

import click

from faultlab.cap.experiments import SHAPES
from faultlab.cli.console import EXIT_FAILED, EXIT_OK, console
from faultlab.cli.options import check_seeds, parse_config
from faultlab.cli.sigterm import stop_if_terminated
from faultlab.errors import FaultlabError


@click.command("cap")
@click.argument("protocol", required=False)
@click.option("--all", "every", is_flag=True, help="Every protocol and the configurations "
              "that matter.")
@click.option("--partition", "shapes", multiple=True, type=click.Choice(tuple(SHAPES)),
              help="Partition shape (repeatable) [default: every shape].")
@click.option("--config", "config_items", multiple=True, metavar="KEY=VALUE",
              help="Protocol setting for a custom configuration (repeatable).")
@click.option("--bug", "bugs", multiple=True,
              help="Planted bug to switch on (repeatable): how it moves the table.")
@click.option("--runs", default=10, show_default=True, type=click.IntRange(1, 100_000),
              help="Seeds per experiment.")
@click.option("--seed", "first_seed", default=0, show_default=True,
              type=click.IntRange(min=0), help="First seed; runs use seed, seed+1, ...")
@click.option("--hold", default=3.0, show_default=True, type=float,
              help="Simulated seconds the partition is held.")
@click.option("--jobs", default=None, type=click.IntRange(1, 1024),
              help="Worker processes [default: number of CPUs].")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON rows.")
@click.option("--plot", "plot_dir", default=None, type=click.Path(file_okay=False),
              help="Write a PNG per experiment and a scatter here (needs the plots extra).")
@click.option("--out", default=None, type=click.Path(file_okay=False),
              help="Directory for bundles and the summary [default: store/cap/TIMESTAMP].")
def cap_cmd(protocol, every, shapes, config_items, bugs, runs, first_seed, hold, jobs, as_json,
            plot_dir, out):
    """Measure availability on each side of a partition against consistency, for PROTOCOL
    or (--all) every protocol."""
    import math
    import os

    import attrs
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from faultlab.campaign.spec import MAX_PHASE_US
    from faultlab.campaign.store import open_run_dir, write_summary
    from faultlab.cap.experiments import experiments
    from faultlab.cap.report import run_experiments
    from faultlab.histories.bundle import write_bundle
    from faultlab.protocols import PROTOCOLS

    if every == bool(protocol):
        raise FaultlabError("name a PROTOCOL or pass --all")
    if every and (config_items or bugs):
        raise FaultlabError(f"{'--config' if config_items else '--bug'} needs a PROTOCOL, "
                            "not --all")
    if not math.isfinite(hold) or not 0.01 <= hold <= MAX_PHASE_US / 1e6:
        raise FaultlabError(f"--hold must be from 0.01 to {MAX_PHASE_US / 1e6:g} seconds, "
                            f"got {hold}")
    check_seeds(first_seed, runs)
    config = parse_config(config_items) if config_items else None
    label = " ".join(config_items) if config_items else None
    exps = [e for name in (sorted(PROTOCOLS) if every else [protocol])
            for e in experiments(name, config, label, tuple(shapes) or None, tuple(bugs))]
    exps = [attrs.evolve(e, hold_us=round(hold * 1e6)) for e in exps]
    if plot_dir is not None:  # refuse before the work, not after it
        from faultlab.plotting import pyplot
        pyplot("--plot")
        try:
            Path(plot_dir).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise FaultlabError(f"cannot write to {plot_dir}: {e.strerror or e}") from None
    root = click.get_current_context().find_root()
    command = shlex.join(["faultlab", *((root.obj or {}).get("argv") or sys.argv[1:])])
    run_dir = open_run_dir("cap", command, out)
    jobs = jobs or os.cpu_count() or 1
    total = len(exps) * runs

    shown = Console(stderr=True) if as_json else console
    saved: list[Path] = []
    done: list[dict] = []

    def on_run(r: dict) -> None:
        """Each run as it finishes: its bundle saved at once, so an interrupt keeps it."""
        stop_if_terminated()
        if r["bundle"] is not None:
            path = run_dir / f"{exps[r['index']].key}-{r['seed']}.json"
            try:
                saved.append(write_bundle(path, r["bundle"]))
            except OSError as e:
                raise FaultlabError(f"cannot save a bundle in {run_dir}: "
                                    f"{e.strerror or e}") from None
            r["bundle"] = None  # on disk now; the report needs only the measures
        done.append(r)
        progress.advance(task)

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=shown) as progress:
        task = progress.add_task(f"{len(exps)} experiments × {runs} runs", total=total)
        try:
            reports = run_experiments(exps, runs, first_seed, jobs, on_run=on_run)
        except BaseException:
            with contextlib.suppress(FaultlabError):  # keep the first error the user sees
                write_summary(run_dir, {"command": command, "runs": runs, "interrupted": True,
                                        "completed": len(done), "of": total,
                                        "bundles": [str(p) for p in saved]})
            shown.print(f"stopped after {len(done)} of {total} runs; {len(saved)} bundles "
                        f"saved in {run_dir}/")
            raise
    rows = [row for rep in reports for row in rep.to_rows()]
    summary = write_summary(run_dir, {"command": command, "runs": runs, "interrupted": False,
                                      "bundles": [str(p) for p in saved], "rows": rows})
    if as_json:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2))
        sys.stdout.buffer.write(b"\n")
    else:
        _print(reports)
        console.print(f"summary: {summary}")
        if saved:
            console.print(f"replay a run: [bold]faultlab replay "
                          f"{shlex.quote(str(min(saved)))}[/]")
    if plot_dir is not None:
        from faultlab.cap.plots import draw_all

        paths = draw_all(reports, Path(plot_dir))
        shown.print(f"plots: {len(paths)} PNGs in {plot_dir}/")
    flagged = [rep for rep in reports if rep.flags]
    return EXIT_FAILED if flagged else EXIT_OK


def _print(reports) -> None:
    """One table (a row per side, a section per experiment), then each configuration's
    promise, the classifications, and any experiment worse than promised."""
    from rich.table import Table

    from faultlab.cap.report import side_cells

    if not console.is_terminal:  # a file or a pipe gets the table unwrapped
        console.width = max(console.width, 170)
    table = Table(title="CAP: availability on each side of a partition, against consistency",
                  header_style="bold", title_justify="left")
    for column in ("configuration", "experiment", "side", "ok", "fail", "unknown",
                   "available", "ms p50/p99 cut", "healed", "recovered", "stuck at heal",
                   "consistency", "class"):
        table.add_column(column, justify="left" if column in (
            "configuration", "experiment", "side", "consistency", "class") else "right")
    shown = None
    for rep in reports:
        rows = rep.to_rows()
        configuration = rep.experiment.configuration
        for i, row in enumerate(rows):
            first = i == 0
            cells = side_cells(row)
            table.add_row(
                configuration if first and configuration != shown else "",
                rep.experiment.describe() if first else "",
                *(cells[c] for c in ("side", "ok", "fail", "unknown", "available", "cut",
                                     "healed", "recovered", "stuck")),
                (_short(rep) if first else ""),
                (rep.classification + (" [red]⚑[/]" if rep.flags else "")) if first else "",
                end_section=i == len(rows) - 1)
        shown = configuration
    console.print(table)
    console.print("[bold]promises[/]")
    for configuration, promise in {r.experiment.configuration: r.promise
                                   for r in reports}.items():
        console.print(f"  {configuration}: {promise.text}", markup=False)
    console.print("[bold]classification[/] (available: the ok share late in the partition, "
                  "relative to before it)")
    for rep in reports:
        exp = rep.experiment
        console.print(f"  {exp.configuration} · {exp.describe()}: "
                      f"[bold]{rep.classification}[/] — {rep.evidence}")
    for rep in reports:
        for flag in rep.flags:
            console.print(f"[red bold]⚑ worse than promised[/] "
                          f"{rep.experiment.configuration} · {rep.experiment.describe()}: "
                          f"{flag}")


def _short(rep) -> str:
    """The consistency cell: a tick and the runs, or what broke."""
    n = len(rep.runs)
    if not rep.violations():
        return f"✓ {n}/{n} runs"
    return f"✗ {rep.violated_runs()}/{n} runs"
