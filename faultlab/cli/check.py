"""`faultlab check`: linearizability of history files from real systems or from runs, or
the consistency of transactional ones (list-append, rw-register, bank).

Each file is read in the format it shows (or `--format`), checked against the model with the
reading its format implies (a failed CAS did nothing in Jepsen and Knossos files, and was an
observation in Porcupine's logs, unless `--cas-fail` says otherwise), per key when its
values are `jepsen.independent` [key value] pairs. The time limit covers reading and
checking; the memory limit bounds the whole process. Exit code: the worst over all files.
A transactional history is judged against `--consistency` by the Elle-style checker.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time

import click

from faultlab.errors import FaultlabError, one_line

_HISTORY_SUFFIXES = (".edn", ".log", ".txt", ".jsonl", ".json")
# Severity for "the worst code": bad input, then not linearizable, then unknown, then ok.
_SEVERITY = {0: 0, 2: 1, 1: 2, 3: 3}
_READING = {"no-effect": "a failed CAS did nothing (Jepsen, Knossos)",
            "observes": "a failed CAS saw another value (Porcupine)"}
_PORCUPINE_FORMATS = ("etcd-log",)  # Porcupine's own logs: its reading of a failed CAS


@click.command("check")
@click.argument("paths", nargs=-1, required=True)
@click.option("--model", default="cas-register", show_default=True,
              help="register, cas-register, kv, kv-cas, multi-register, set, unordered-queue, "
              "fifo-queue or mutex; or a transactional workload: list-append, rw-register "
              "or bank.")
@click.option("--consistency", default=None,
              type=click.Choice(["strict-serializable", "strong-session-serializable",
                                 "serializable", "snapshot-isolation", "read-committed"]),
              help="Transactional workloads: the model that must hold "
              "[default: strict-serializable].")
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "jepsen-edn", "knossos-edn", "history-txt",
                                 "jepsen-log", "etcd-log", "kv-log", "jsonl", "json"]),
              help="History file format.")
@click.option("--initial", default=None, metavar="EDN",
              help="The model's initial value, e.g. 0 or '{:x 0 :y 0}' [default: nil/empty]; "
              "for bank, the total over all accounts [default: what most reads show].")
@click.option("--cas-fail", type=click.Choice(["no-effect", "observes"]), default=None,
              help="cas-register: a failed CAS did nothing (Jepsen, Knossos) or saw another "
              "value (Porcupine) [default: by the file's format].")
@click.option("--independent/--no-independent", default=None,
              help="Values are jepsen.independent [key value] pairs, checked per key "
              "[default: detected].")
@click.option("--time-limit", default=None, type=float,
              help="Seconds per file, reading included; past it the verdict is unknown.")
@click.option("--memory-limit", default=None, type=click.IntRange(min=16),
              help="MiB the process may grow by; past it the verdict is unknown "
              "[default: half of the machine's memory].")
@click.option("--all-keys", is_flag=True,
              help="Check every partition (key) and report all failing ones.")
@click.option("--no-partition", is_flag=True, help="kv: check the whole map as one object.")
@click.option("--jobs", default=None, type=click.IntRange(min=1),
              help="Processes for independent partitions [default: automatic].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead.")
def check_cmd(paths, model, consistency, fmt, initial, cas_fail, independent, time_limit,
              memory_limit, all_keys, no_partition, jobs, as_json):
    """Check that history files (or directories of them) are linearizable, or for a
    transactional workload, that they satisfy --consistency.

    Exit code: 0 valid, 1 not (not linearizable, or an anomaly the consistency model
    forbids), 2 unknown, 3 bad input (the worst over all files).
    """
    from faultlab.checkers.models import MODELS, ModelError
    from faultlab.checkers.transactions import WORKLOADS

    transactional = model in WORKLOADS
    if not transactional and model not in MODELS:
        raise ModelError(f"unknown model {model!r}; choose from "
                         f"{', '.join((*MODELS, *WORKLOADS))}")
    if consistency is not None and not transactional:
        raise click.UsageError("--consistency only applies to the transactional workloads "
                               f"({', '.join(WORKLOADS)})")
    if transactional:
        for flag, given in (("--cas-fail", cas_fail), ("--independent", independent),
                            ("--all-keys", all_keys), ("--no-partition", no_partition)):
            if given:
                raise click.UsageError(f"{flag} does not apply to --model {model}")
        if initial is not None and model != "bank":
            raise click.UsageError(f"--initial does not apply to --model {model}")
    if time_limit is not None and not (math.isfinite(time_limit) and time_limit >= 0):
        raise FaultlabError(f"--time-limit must be a finite number of seconds >= 0, "
                            f"got {time_limit}")
    if cas_fail is not None and model != "cas-register":
        raise click.UsageError("--cas-fail only applies to --model cas-register")
    if no_partition and model != "kv":
        raise click.UsageError("--no-partition only applies to --model kv")
    options = {}
    if initial is not None:
        options["initial"] = _parse_initial(initial)
        if model == "bank" and type(options["initial"]) is not int:
            raise FaultlabError(f"--initial for bank is the total over all accounts, an "
                                f"integer; got {initial!r}")
    if transactional:
        consistency = consistency or "strict-serializable"
        options["consistency"] = consistency
    prop = consistency.replace("-", " ") if transactional else "linearizable"
    if no_partition:
        options["partitioned"] = False
    files = _history_files(paths)
    worst, counts, docs = 0, {0: 0, 1: 0, 2: 0, 3: 0}, []
    with _memory_limit(memory_limit) as limit_mb:
        for path in files:
            if isinstance(path, FaultlabError):
                doc, code = {"path": str(path.args[1]), "error": str(path.args[0])}, 3
                if not as_json:
                    click.echo(f"error: {one_line(path.args[0])}", err=True)
            else:
                doc, code = _check_file(path, model, fmt, options, cas_fail, independent,
                                        time_limit, limit_mb, all_keys, jobs, as_json)
            docs.append(doc)
            counts[code] += 1
            worst = max(worst, code, key=_SEVERITY.__getitem__)
    key = prop.replace(" ", "_")
    total = {"files": len(files), key: counts[0], f"not_{key}": counts[1],
             "unknown": counts[2], "bad_input": counts[3], "exit_code": worst}
    if as_json:
        head = {"model": model, **({"consistency": consistency} if transactional else {})}
        sys.stdout.write(_dumps({**head, "files": docs, "total": total}) + "\n")
    else:
        click.echo(f"total: {len(files)} files: {counts[0]} {prop}, {counts[1]} not "
                   f"{prop}, {counts[2]} unknown, {counts[3]} bad input")
    return worst


def _check_file(path: str, model_name: str, fmt: str, options: dict, cas_fail, independent,
                time_limit, limit_mb: int, all_keys: bool, jobs, as_json: bool):
    """Read and check one file: (its JSON document, its exit code)."""
    from faultlab.checkers import transactions
    from faultlab.checkers.linearizability import render
    from faultlab.histories.formats import ReadTimeout, read_history

    started = time.monotonic()
    deadline = None if time_limit is None else started + time_limit
    notes: dict = {}
    transactional = model_name in transactions.WORKLOADS
    prop = options["consistency"] if transactional else "linearizable"
    keyed = None
    try:
        loaded = read_history(path, fmt, deadline=deadline)
        history = loaded.history
        n_ops = sum(1 for op in history if op.type == "invoke")
        if transactional:
            verdict = _check_transactions(path, loaded, model_name, options, deadline)
            render = transactions.render
        else:
            keyed, verdict = _check_linearizable(history, model_name, options, cas_fail,
                                                 independent, loaded.format, notes,
                                                 limit_mb, all_keys, jobs, deadline)
    except FaultlabError as e:
        if not as_json:
            click.echo(f"error: {one_line(str(e))}", err=True)
        return {"path": str(path), "error": str(e)}, 3
    except ReadTimeout as e:
        return _unknown(path, prop, f"unknown: {e}", started, as_json), 2
    except MemoryError:
        return _unknown(path, prop, f"unknown: the memory limit ({limit_mb} MiB) ran out",
                        started, as_json), 2
    code = {True: 0, False: 1}.get(verdict.valid, 2)
    parts = verdict.anomalies.get("stats", {}).get("partitions", 1)
    doc = {"path": str(path), "format": loaded.format, "operations": n_ops,
           "keyed": parts if keyed else None, "warnings": list(loaded.warnings),
           "verdict": verdict.to_dict(), **{k.replace(" ", "_"): v for k, v in notes.items()}}
    if not as_json:
        for warning in loaded.warnings:
            click.echo(f"{path}: warning: {warning}", err=True)
        what = [model_name, loaded.format]
        if "failed CAS" in notes:
            what.append(_READING[notes["failed CAS"]])
        if keyed:
            what.append(f"keyed history: {parts} keys")
        secs = time.monotonic() - started
        label = prop.replace("-", " ")
        label = {0: label, 1: f"NOT {label.upper()}", 2: "UNKNOWN"}[code]
        click.echo(f"{path}: {label} ({', '.join(what)}, {n_ops:,} ops, {secs:.3f}s)")
        if code:
            for line in render(verdict):
                click.echo("  " + line)
    return doc, code


def _check_transactions(path: str, loaded, workload: str, options: dict, deadline):
    """The transaction checker's verdict, a bad transaction named by file and line."""
    from faultlab.checkers.transactions import check_transactions
    from faultlab.checkers.transactions.txns import TxnError
    from faultlab.histories.errors import HistoryError

    try:
        return check_transactions(loaded.history, workload, options["consistency"],
                                  deadline=deadline, initial_total=options.get("initial"))
    except TxnError as e:
        raise HistoryError(e.problem, path=str(path),
                           line=loaded.lines[e.position] if loaded.lines else None) from None


def _check_linearizable(history, model_name, options, cas_fail, independent, format,
                        notes, limit_mb, all_keys, jobs, deadline):
    """(whether the history is keyed, the linearizability verdict)."""
    from faultlab.checkers.linearizability import check_linearizable
    from faultlab.checkers.models import get_model, looks_keyed

    opts = dict(options)
    if model_name == "cas-register":
        opts["cas_fail"] = cas_fail or ("observes" if format in _PORCUPINE_FORMATS
                                        else "no-effect")
        notes["failed CAS"] = opts["cas_fail"]
    keyed = independent if independent is not None else looks_keyed(
        model_name, ((op.f, op.value) for op in history if op.type == "invoke"))
    the_model = get_model(model_name, independent=keyed, **opts)
    return keyed, check_linearizable(history, the_model, all_partitions=all_keys,
                                     memory_limit=limit_mb << 19, jobs=jobs,
                                     deadline=deadline)


def _unknown(path: str, prop: str, why: str, started: float, as_json: bool) -> dict:
    if not as_json:
        click.echo(f"{path}: UNKNOWN ({why}, {time.monotonic() - started:.3f}s)")
    return {"path": str(path), "verdict": {"name": prop, "valid": "unknown",
                                           "explanation": why}}


def _parse_initial(text: str):
    from faultlab.histories import edn
    from faultlab.histories.formats import plain

    return plain(edn.loads(text, path="--initial"))


def _history_files(paths) -> list:
    """The files to check, in order: each path, or the history files under a directory.
    A path that cannot be read becomes a FaultlabError(problem, path) in its place."""
    files: list = []
    for p in paths:
        if os.path.isdir(p):
            problems: list = []
            found = []
            for root, dirs, names in os.walk(p, onerror=problems.append):
                dirs.sort()
                found.extend(os.path.join(root, name) for name in names
                             if name.endswith(_HISTORY_SUFFIXES) and not name.startswith("."))
            found.sort(key=lambda f: f.split(os.sep))  # as paths: by directory, then name
            files.extend(found)
            for e in problems:
                files.append(FaultlabError(f"{e.filename}: cannot read directory "
                                           f"({e.strerror})", e.filename))
            if not found and not problems:
                files.append(FaultlabError(f"{p}: no history files in this directory", p))
        else:
            files.append(p)
    return files


@contextlib.contextmanager
def _memory_limit(limit_mb: int | None):
    """Let the process's data grow by at most `limit_mb` MiB (half the machine by default)
    past what it holds now, so a history too big to check ends in an unknown verdict, not
    in swapping; the limit is lifted afterwards. Yields the limit in MiB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20
    except (ValueError, OSError, AttributeError):
        total = 8192
    limit_mb = limit_mb or max(256, total // 2)
    try:
        import resource

        before = resource.getrlimit(resource.RLIMIT_DATA)
        want = (_data_mb() + limit_mb) << 20
        if before[1] != resource.RLIM_INFINITY and want > before[1]:
            raise ValueError("past the hard limit")
        resource.setrlimit(resource.RLIMIT_DATA, (want, before[1]))
    except (ImportError, ValueError, OSError):
        before = None  # no such limit here: the memo's own budget still holds
    try:
        yield limit_mb
    finally:
        if before is not None:
            resource.setrlimit(resource.RLIMIT_DATA, before)


def _data_mb() -> int:
    """The process's data segment now, in MiB (Linux), or 0 when unknown."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) >> 10
    except OSError:
        pass
    return 0


def _dumps(doc) -> str:
    """JSON text for a report. orjson is fast but refuses integers past 64 bits and lone
    surrogates; the standard library writes both exactly."""
    import orjson

    try:
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(doc, indent=2, default=repr)
