"""The faultlab command line: run campaigns, replay bundles, list protocols, check histories.

Exit codes: 0 all good, 1 a check failed, 2 unknown (a checker ran out of budget), 3 bad input.
"""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import attrs
import click
from rich.console import Console
from rich.table import Table

from faultlab.histories.errors import FaultlabError

EXIT_BAD_INPUT = 3
console = Console(highlight=False, soft_wrap=True)  # never break a command line


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="faultlab")
def cli() -> None:
    """Find bugs in distributed protocols with deterministic simulation and fault injection."""


# ---- run ------------------------------------------------------------------------------------

@cli.command("run")
@click.argument("protocol")
@click.option("--runs", default=100, show_default=True, type=click.IntRange(min=1),
              help="Number of seeds to run.")
@click.option("--seed", "first_seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="First seed; runs use seed, seed+1, ...")
@click.option("--bug", "bugs", multiple=True, help="Planted bug to switch on (repeatable).")
@click.option("--jobs", default=None, type=click.IntRange(min=1),
              help="Worker processes [default: number of CPUs].")
@click.option("--out", default="histories", show_default=True, type=click.Path(file_okay=False),
              help="Directory for repro bundles of failing runs.")
@click.option("--faults", default="", help="Comma-separated fault families to draw from "
              "[default: all; see `faultlab faults`].")
@click.option("--no-swarm", is_flag=True, help="Use every enabled fault family in every run.")
@click.option("--heal-at", default=3.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Simulated seconds of faults before the heal phase.")
@click.option("--config", "config_items", multiple=True, metavar="KEY=VALUE",
              help="Protocol config override, e.g. nodes=3 (repeatable).")
@click.option("--scheduler", default=None, help="Dask scheduler address (tcp://host:8786); "
              "needs the `cluster` extra.")
def run_cmd(protocol, runs, first_seed, bugs, jobs, out, faults, no_swarm, heal_at,
            config_items, scheduler):
    """Run a randomized fault campaign against PROTOCOL and save failing runs."""
    from faultlab.campaign.campaign import run_campaign, save_bundle
    from faultlab.campaign.runner import prepare
    from faultlab.campaign.spec import RunSpec
    from faultlab.protocols import get_protocol

    families = tuple(f.strip() for f in faults.split(",") if f.strip())
    nemesis = None  # the protocol's default
    if families or no_swarm:  # the default's families unless named, swarm unless turned off
        default = get_protocol(protocol).default_nemesis
        nemesis = attrs.evolve(default, families=families or default.families,
                               swarm=not no_swarm)
    spec = RunSpec(protocol=protocol, bugs=tuple(bugs), heal_at_us=int(heal_at * 1e6),
                   config=_parse_config(config_items), nemesis=nemesis)
    prepare(spec)  # reject unknown protocols, bugs and configs before starting workers
    jobs = jobs or os.cpu_count() or 1
    executor = _dask_executor(scheduler) if scheduler else None

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    label = f"{protocol}" + (f" +{','.join(sorted(bugs))}" if bugs else "")
    failed = 0
    saved: list[Path] = []
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        task = progress.add_task(label, total=runs, failed=0)

        def on_result(r):
            nonlocal failed
            if r.failed:
                failed += 1
                saved.append(save_bundle(r.bundle, out))
            progress.update(task, advance=1, failed=failed)

        result = run_campaign(spec, range(first_seed, first_seed + runs), jobs=jobs,
                              executor=executor, on_result=on_result)
    _print_summary(result, jobs)
    if result.failures:
        first = result.failures[0]
        path = Path(out) / _bundle_file(result.spec, first.seed)
        console.print(f"\n[red bold]{len(result.failures)} of {runs} runs failed[/]; "
                      f"{len(saved)} bundles saved in {out}/")
        console.print(f"first failure: seed {first.seed}: {first.explanations[0]}")
        console.print(f"replay it with:\n  [bold]faultlab replay {shlex.quote(str(path))}[/]")
        return 1
    console.print(f"\n[green bold]0 of {runs} runs failed[/]")
    return 0


def _parse_config(items) -> dict:
    config = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise FaultlabError(f"--config {item!r}: expected KEY=VALUE")
        try:
            config[key] = int(value)
        except ValueError:
            config[key] = value
    return config


def _bundle_file(spec, seed: int) -> str:
    import attrs

    from faultlab.campaign.campaign import bundle_name

    return bundle_name(attrs.evolve(spec, seed=seed))


def _dask_executor(address: str):
    try:
        from dask.distributed import Client
    except ImportError:
        raise FaultlabError("--scheduler needs dask: pip install 'faultlab[cluster]'") from None
    try:
        return Client(address, timeout=10).get_executor()
    except OSError as e:
        raise FaultlabError(f"cannot reach dask scheduler {address}: {e}") from None


def _print_summary(result, jobs: int) -> None:
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
    for stat, count in result.totals("stats").items():
        if not stat.startswith("messages"):
            table.add_row(f"  protocol: {stat}", str(count))
    console.print(table)


# ---- replay ---------------------------------------------------------------------------------

@cli.command("replay")
@click.argument("bundle", type=click.Path(dir_okay=False))
@click.option("--history", "show_history", is_flag=True, help="Print the replayed history too.")
def replay_cmd(bundle, show_history):
    """Re-run a saved BUNDLE, confirm its fingerprint, and explain the failure."""
    from faultlab.campaign.explain import account
    from faultlab.campaign.replay import replay

    rep = replay(bundle)
    spec = rep.result.spec
    console.print(f"[bold]{spec.protocol}[/] seed {spec.seed}"
                  + (f", bugs {', '.join(spec.bugs)}" if spec.bugs else "")
                  + f", {len(spec.schedule or ())} faults, {len(rep.result.history)} ops")
    if rep.identical:
        console.print(f"fingerprint {rep.result.fingerprint} [green]identical[/] to the bundle")
    else:
        console.print("[red bold]fingerprint DIFFERS: this run diverged from the saved one[/] "
                      "(the code or the spec changed)")
        console.print(f"  saved:    {rep.bundle.fingerprint}")
        console.print(f"  replayed: {rep.result.fingerprint}")
    for v in rep.result.verdicts:
        if v.failed:
            continue  # the account below explains it
        mark = {True: "[green]valid[/]", False: "[red]FAILED[/]"}.get(v.valid, "[yellow]unknown[/]")
        console.print(f"  {v.name:12} {mark}  {v.explanation}")
    for line in account(rep.result):
        console.print(line, markup=False)
    if show_history:
        for op in rep.result.history:
            console.print(f"  {op.time:>10} {op.process:>4} {op.type:6} {op.f:6} {op.value!r}",
                          markup=False)
    if rep.still_fails:
        return 1
    return 0


# ---- shrink ---------------------------------------------------------------------------------

@cli.command("shrink")
@click.argument("bundle", type=click.Path(dir_okay=False))
@click.option("--out", default=None, type=click.Path(dir_okay=False),
              help="Where to save the minimal bundle [default: BUNDLE with .min.json].")
@click.option("--max-attempts", default=400, show_default=True, type=click.IntRange(min=1),
              help="Replays to spend looking for a smaller failing run.")
def shrink_cmd(bundle, out, max_attempts):
    """Shrink a failing BUNDLE to a smaller run that fails the same check."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from faultlab.campaign.campaign import make_bundle
    from faultlab.campaign.shrink import shrink
    from faultlab.campaign.spec import RunSpec
    from faultlab.histories.bundle import load_bundle, write_bundle

    saved = load_bundle(bundle)
    spec = RunSpec.from_dict(saved.spec)
    with Progress(SpinnerColumn(), TextColumn("shrinking: {task.fields[n]} replays, "
                                              "{task.fields[kept]} smaller failures kept"),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("shrink", n=0, kept=0)
        kept = 0

        def on_attempt(n, ok):
            nonlocal kept
            kept += ok
            progress.update(task, n=n, kept=kept)

        result = shrink(spec, saved.failing_checks or None, max_attempts=max_attempts,
                        on_attempt=on_attempt)
    before, after = result.original, result.result
    table = Table(title=f"shrunk in {result.attempts} replays", header_style="bold")
    for col in ("", "faults", "clients", "ops", "heal at", "failing checks"):
        table.add_column(col)
    for label, r in (("original", before), ("minimal", after)):
        wl = r.spec.workload.clients if r.spec.workload else "default"
        table.add_row(label, str(len(r.spec.schedule)), str(wl), str(len(r.history)),
                      f"{r.spec.heal_at_us / 1e6:.2f}s", ", ".join(v.name for v in r.failed))
    console.print(table)
    for fault in after.spec.schedule.faults:
        console.print(f"  {fault.time / 1e6:8.3f}s  {fault.describe()}", markup=False)
    path = Path(out) if out else Path(bundle).with_suffix("").with_suffix(".min.json")
    write_bundle(path, make_bundle(after))
    console.print(f"saved {path}\nreplay it with:\n  [bold]faultlab replay "
                  f"{shlex.quote(str(path))}[/]")
    return 1


# ---- protocols ------------------------------------------------------------------------------

@cli.command("protocols")
def protocols_cmd():
    """List protocols, their planted bugs and their checks."""
    from faultlab.protocols import PROTOCOLS

    table = Table(show_header=True, header_style="bold", show_lines=True)
    table.add_column("protocol")
    table.add_column("planted bugs (--bug NAME)")
    table.add_column("checks")
    for name in sorted(PROTOCOLS):
        p = PROTOCOLS[name]
        bugs = "\n".join(f"[bold]{b}[/]: {d}" for b, d in sorted(p.bugs.items())) or "-"
        checks = "\n".join(f"[bold]{c}[/]: {d}" for c, d in sorted(p.checks.items()))
        table.add_row(f"[bold]{name}[/]\n{p.summary}", bugs, checks)
    console.print(table)
    return 0


@cli.command("faults")
def faults_cmd():
    """List the fault families the nemesis draws from (for `run --faults`)."""
    from faultlab.nemesis.faults import KINDS, TIMING_PARAMS
    from faultlab.nemesis.generator import FAMILIES

    console.print("fault families: " + ", ".join(FAMILIES))
    for kind, what in KINDS.items():
        console.print(f"  [bold]{kind}[/]: {what}")
    console.print("timing params (any kind):")
    for param, what in TIMING_PARAMS.items():
        console.print(f"  [bold]{param}[/]: {what}")
    return 0


# ---- check (linearizability of history files) ----------------------------------------------

_HISTORY_SUFFIXES = (".edn", ".log", ".txt", ".jsonl", ".json")
# Severity for "the worst code": bad input, then not linearizable, then unknown, then ok.
_SEVERITY = {0: 0, 2: 1, 1: 2, 3: 3}


def _history_files(paths) -> list[Path]:
    """Expand directories into the history files under them, in sorted order."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file()
                                and f.suffix in _HISTORY_SUFFIXES
                                and not f.name.startswith(".")))
        else:
            files.append(p)
    return files


@cli.command("check")
@click.argument("paths", nargs=-1, required=True)
@click.option("--model", default="cas-register", show_default=True,
              help="register, cas-register, kv, kv-cas, multi-register, set, unordered-queue, "
              "fifo-queue or mutex.")
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "jepsen-edn", "knossos-edn", "etcd-log", "kv-log",
                                 "jsonl"]), help="History file format.")
@click.option("--time-limit", default=None, type=click.FloatRange(min=0),
              help="Seconds per file; past it the verdict is unknown.")
@click.option("--memory-limit", default=1024, show_default=True, type=click.IntRange(min=1),
              help="MiB the search's memo cache may use per file.")
@click.option("--all-keys", is_flag=True,
              help="Check every partition (key) and report all failing ones.")
@click.option("--knossos-cas", is_flag=True,
              help="cas-register: a failed CAS did not happen (Knossos) instead of observing "
              "a different value (Porcupine, the default).")
@click.option("--no-partition", is_flag=True, help="kv: check the whole map as one object.")
@click.option("--jobs", default=None, type=click.IntRange(min=1),
              help="Processes for independent partitions [default: automatic].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead.")
def check_cmd(paths, model, fmt, time_limit, memory_limit, all_keys, knossos_cas,
              no_partition, jobs, as_json):
    """Check that history files (or directories of them) are linearizable.

    Exit code: 0 linearizable, 1 not linearizable, 2 unknown, 3 bad input (the worst over
    all files).
    """
    import orjson

    from faultlab.checkers.linearizability import check_linearizable, render
    from faultlab.checkers.models import get_model
    from faultlab.histories.formats import load_history

    options = {}
    if knossos_cas:
        if model != "cas-register":
            raise click.UsageError("--knossos-cas only applies to --model cas-register")
        options["knossos"] = True
    if no_partition:
        if model != "kv":
            raise click.UsageError("--no-partition only applies to --model kv")
        options["partitioned"] = False
    the_model = get_model(model, **options)
    files = _history_files(paths)
    if not files:
        raise FaultlabError(f"no history files in {', '.join(paths)}")
    worst, counts, docs = 0, {0: 0, 1: 0, 2: 0, 3: 0}, []
    for path in files:
        try:
            history = load_history(path, fmt)
            verdict = check_linearizable(history, the_model, time_limit,
                                         all_partitions=all_keys,
                                         memory_limit=memory_limit << 20, jobs=jobs)
        except FaultlabError as e:
            code = 3
            docs.append({"path": str(path), "error": str(e)})
            if not as_json:
                click.echo(f"{path}: error: {e}")
        else:
            code = {True: 0, False: 1}.get(verdict.valid, 2)
            n_ops = sum(1 for op in history if op.type == "invoke")
            docs.append({"path": str(path), "operations": n_ops,
                         "verdict": verdict.to_dict()})
            if not as_json:
                label = {0: "linearizable", 1: "NOT LINEARIZABLE", 2: "UNKNOWN"}[code]
                secs = verdict.anomalies["stats"]["seconds"]
                click.echo(f"{path}: {label} ({the_model.name}, {n_ops} ops, "
                           f"{secs:.3f}s)")
                if code:
                    for line in render(verdict):
                        click.echo("  " + line)
        counts[code] += 1
        worst = max(worst, code, key=_SEVERITY.__getitem__)
    total = {"files": len(files), "linearizable": counts[0], "not_linearizable": counts[1],
             "unknown": counts[2], "bad_input": counts[3], "exit_code": worst}
    if as_json:
        sys.stdout.write(orjson.dumps({"model": the_model.name, "files": docs, "total": total},
                                      option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        click.echo(f"total: {len(files)} files: {counts[0]} linearizable, {counts[1]} not "
                   f"linearizable, {counts[2]} unknown, {counts[3]} bad input")
    return worst


def main(argv: list[str] | None = None) -> None:
    """Console entry point: maps bad input to a one-line error and exit code 3."""
    try:
        code = cli.main(args=argv, prog_name="faultlab", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        click.echo(f"error: {e.format_message()}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except FaultlabError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    sys.exit(code if isinstance(code, int) else 0)
