"""`faultlab run`: a randomized fault campaign, with a progress bar, a summary table, and a
bundle and replay command for every failing seed, all kept under store/."""
from __future__ import annotations

import contextlib
import os
import shlex
import sys
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from faultlab.cli.console import EXIT_FAILED, EXIT_OK, console
from faultlab.cli.options import build_spec, check_seeds, dask_executor, run_options
from faultlab.cli.sigterm import stop_if_terminated
from faultlab.errors import FaultlabError


@click.command("run")
@run_options
@click.option("--runs", default=100, show_default=True, type=click.IntRange(1, 10_000_000),
              help="Number of seeds to run.")
@click.option("--seed", "first_seed", default=0, show_default=True,
              type=click.IntRange(min=0), help="First seed; runs use seed, seed+1, ...")
@click.option("--jobs", default=None, type=click.IntRange(1, 1024),
              help="Worker processes [default: number of CPUs, at most --runs].")
@click.option("--out", default=None, type=click.Path(file_okay=False),
              help="Directory for this campaign's bundles and summary "
              "[default: store/PROTOCOL/TIMESTAMP].")
@click.option("--scheduler", default=None, help="Dask scheduler address (tcp://host:8786); "
              "needs the `cluster` extra.")
def run_cmd(protocol, bugs, config_items, faults, no_swarm, heal_at, runs, first_seed, jobs,
            out, scheduler):
    """Run a randomized fault campaign against PROTOCOL and save failing runs."""
    from faultlab.campaign.campaign import run_campaign, save_bundle
    from faultlab.campaign.store import open_run_dir, write_summary

    check_seeds(first_seed, runs)
    spec = build_spec(protocol, bugs, config_items, faults, no_swarm, heal_at)
    jobs = min(jobs or os.cpu_count() or 1, runs)
    executor = dask_executor(scheduler) if scheduler is not None else None
    root = click.get_current_context().find_root()
    command = shlex.join(["faultlab", *((root.obj or {}).get("argv") or sys.argv[1:])])
    run_dir = open_run_dir(protocol, command, out)

    label = protocol + (f" +{','.join(sorted(bugs))}" if bugs else "")
    saved: dict[int, Path] = {}  # seed -> its bundle
    done: list = []
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        task = progress.add_task(label, total=runs, failed=0)

        def on_result(r):
            stop_if_terminated()
            if r.failed:
                try:
                    saved[r.seed] = save_bundle(r.bundle, run_dir)
                except OSError as e:
                    raise FaultlabError(f"cannot save the bundle of seed {r.seed} in "
                                        f"{run_dir}: {e.strerror or e}; {len(saved)} bundles "
                                        "saved before it") from None
            done.append(r)  # after its bundle: the summary never names a bundle not saved
            progress.update(task, advance=1, failed=len(saved))

        try:
            result = run_campaign(spec, range(first_seed, first_seed + runs), jobs=jobs,
                                  executor=executor, on_result=on_result)
        except BaseException:
            with contextlib.suppress(FaultlabError):  # keep the first error the user sees
                write_summary(run_dir, _summary_doc(spec, command, done, saved, runs,
                                                    interrupted=True))
            console.print(f"stopped after {len(done)} of {runs} runs; {len(saved)} bundles "
                          f"saved in {run_dir}/")
            raise
    from faultlab.protocols import get_protocol

    proto = get_protocol(spec.protocol)
    promises = proto.promises(proto.resolve_config(spec.config))
    summary_path = write_summary(run_dir, {**_summary_doc(spec, command, result.results, saved,
                                                          runs, wall_s=result.wall_s),
                                           "promises": promises})
    _print_summary(result, jobs, proto.rates)
    for line in promises:
        console.print(line, markup=False)
    console.print(f"summary: {summary_path}")
    if result.failures:
        first = result.failures[0]
        console.print(f"\n[red bold]{len(result.failures)} of {runs} runs failed[/]; "
                      f"{len(saved)} bundles saved in {run_dir}/")
        console.print(f"first failure: seed {first.seed}, {first.failed_checks[0]}: "
                      f"{first.explanations[0]}", markup=False)
        console.print(f"replay it with:\n  [bold]faultlab replay "
                      f"{shlex.quote(str(saved[first.seed]))}[/]")
        return EXIT_FAILED
    console.print(f"\n[green bold]0 of {runs} runs failed[/]")
    return EXIT_OK


def _summary_doc(spec, command: str, results, saved: dict[int, Path], runs: int,
                 wall_s: float | None = None, interrupted: bool = False) -> dict:
    failures = [r for r in results if r.failed]
    return {
        "command": command, "spec": spec.to_dict(), "runs": runs, "completed": len(results),
        "interrupted": interrupted, "failed": len(failures), "wall_s": wall_s,
        "failures": [{"seed": r.seed, "checks": list(r.failed_checks),
                      "explanation": r.explanations[0],
                      "bundle": str(saved[r.seed]) if r.seed in saved else None}
                     for r in sorted(failures, key=lambda r: r.seed)],
        "faults_fired": _total(results, "faults_fired"), "stats": _total(results, "stats"),
    }


def _total(results, field: str) -> dict[str, int]:
    total: dict[str, int] = {}
    for r in results:
        for k, v in getattr(r, field).items():
            total[k] = total.get(k, 0) + v
    return dict(sorted(total.items()))


def _print_summary(result, jobs: int, rates=()) -> None:
    n = len(result.results)
    events = sum(r.events for r in result.results)
    sim_s = sum(r.sim_time_us for r in result.results) / 1e6
    cpu_s = sum(r.wall_s for r in result.results)
    table = Table(title="campaign summary", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("runs", str(n))
    table.add_row("failed runs", str(len(result.failures)))
    for check, count in result.check_failures().items():
        table.add_row(f"  failed check: {check}", str(count))
    table.add_row("wall time", f"{result.wall_s:.1f}s on {jobs} job(s)")
    table.add_row("events simulated", f"{events:,}")
    if cpu_s > 0:
        table.add_row("events/s per worker", f"{events / cpu_s:,.0f}")
        table.add_row("simulated / wall time", f"{sim_s / cpu_s:,.0f}x")
    for kind, count in result.totals("faults_fired").items():
        table.add_row(f"  fault fired: {kind}", str(count))
    stats = result.totals("stats")
    for stat, count in stats.items():
        if not stat.startswith("messages"):
            table.add_row(f"  protocol: {stat}", str(count))
    for label, part, whole in rates:
        if stats.get(whole):
            table.add_row(f"  {label}", f"{stats.get(part, 0) / stats[whole]:.2%}")
    console.print(table)
