"""`faultlab check`: linearizability of history files from real systems or from runs."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from faultlab.errors import FaultlabError

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


@click.command("check")
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
