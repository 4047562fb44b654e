"""`faultlab shrink`: the smallest run that still fails the bundle's check, saved beside it
(never over it, nor over any other file)."""
from __future__ import annotations

import os
import shlex
from pathlib import Path

import click
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from faultlab.cli.console import EXIT_FAILED, console
from faultlab.cli.sigterm import stop_if_terminated
from faultlab.errors import FaultlabError


@click.command("shrink")
@click.argument("bundle", type=click.Path(dir_okay=False))
@click.option("--out", default=None, type=click.Path(dir_okay=False),
              help="Where to save the minimal bundle [default: BUNDLE's name + .min.json, "
              "numbered if taken].")
@click.option("--max-attempts", default=400, show_default=True, type=click.IntRange(1, 100_000),
              help="Replays to spend looking for a smaller failing run.")
def shrink_cmd(bundle, out, max_attempts):
    """Shrink a failing BUNDLE to a smaller run that fails the same check.

    Interrupted, it saves the smallest failing run found so far."""
    from faultlab.campaign.campaign import make_bundle
    from faultlab.campaign.runner import run
    from faultlab.campaign.shrink import shrink
    from faultlab.campaign.spec import RunSpec
    from faultlab.histories.bundle import load_bundle, write_bundle

    saved = load_bundle(bundle)
    spec = RunSpec.from_dict(saved.spec)
    path = _output_path(Path(bundle), out)
    first = run(spec)
    if first.fingerprint != saved.fingerprint:
        console.print("[yellow]warning:[/] the replay diverged from the bundle (the code or the "
                      "spec changed); shrinking the run as it behaves now")
    with Progress(SpinnerColumn(), TextColumn("shrinking: {task.fields[n]} replays, "
                                              "{task.fields[kept]} smaller failures kept"),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("shrink", n=0, kept=0)
        kept = 0

        def on_attempt(n, ok):
            nonlocal kept
            stop_if_terminated()
            kept += ok
            progress.update(task, n=n, kept=kept)

        result = shrink(spec, saved.failing_checks or None, max_attempts=max_attempts,
                        on_attempt=on_attempt, original=first)
    before, after = result.original, result.result
    title = f"shrunk in {result.attempts} replays" + (" (interrupted)"
                                                      if result.interrupted is not None
                                                      else "")
    table = Table(title=title, header_style="bold")
    for col in ("", "faults", "clients", "ops", "heal at", "failing checks"):
        table.add_column(col)
    for label, r in (("original", before), ("minimal", after)):
        wl = r.spec.workload.clients if r.spec.workload else "default"
        table.add_row(label, str(len(r.spec.schedule)), str(wl), str(len(r.history)),
                      f"{r.spec.heal_at_us / 1e6:.2f}s", ", ".join(v.name for v in r.failed))
    console.print(table)
    for fault in after.spec.schedule.faults:
        console.print(f"  {fault.time / 1e6:8.3f}s  {fault.describe()}", markup=False)
    try:
        write_bundle(path, make_bundle(after))
    except OSError as e:
        raise FaultlabError(f"cannot save {path}: {e.strerror or e}") from None
    console.print(f"saved {path}\nreplay it with:\n  [bold]faultlab replay "
                  f"{shlex.quote(str(path))}[/]")
    if result.interrupted is not None:  # stopped: end the usual way, now that it is saved
        raise result.interrupted
    return EXIT_FAILED


def _output_path(bundle: Path, out: str | None) -> Path:
    """Where the minimal bundle goes: never the input, never an existing file, and a place
    that can be written, checked before the replays start."""
    if out is not None:
        path = Path(out)
        if path.resolve() == bundle.resolve():
            raise FaultlabError(f"--out {out} is the input bundle; shrink never overwrites it")
        if path.exists():
            raise FaultlabError(f"--out {out} exists; shrink never overwrites a file")
    else:
        stem = bundle.name[:-5] if bundle.name.endswith(".json") else bundle.name
        path = bundle.with_name(f"{stem}.min.json")
        n = 1
        while path.exists():
            n += 1
            path = bundle.with_name(f"{stem}.min-{n}.json")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise FaultlabError(f"cannot write {path}: {parent} is not a writable directory")
    return path

