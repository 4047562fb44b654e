"""`faultlab lineage JOB`: a job's lineage — its RDDs, their narrow and wide dependencies,
each RDD's determinism level and storage — and, per action, the stages cut at shuffles;
with the plots extra, `--png` draws the graph."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from faultlab.cli.console import EXIT_OK, console
from faultlab.errors import FaultlabError
from faultlab.plotting import pyplot, save


@click.command("lineage")
@click.argument("job")
@click.option("--png", type=click.Path(dir_okay=False), default=None,
              help="Also draw the lineage graph to this PNG (needs the plots extra).")
def lineage_cmd(job, png):
    """Show JOB's lineage and stages: a bundled job (word-count, pagerank, friends,
    logistic-regression) or FILE.py:NAME naming a Job."""
    from rich.table import Table

    from faultlab.protocols.rdd.dag import lineage_graph, stages
    from faultlab.protocols.rdd.lineage import Shuffle
    from faultlab.protocols.rdd.local import evaluate

    the_job = _load(job)
    _, ctx = evaluate(the_job)
    table = Table(title=f"lineage of {the_job.name}", header_style="bold")
    for column in ("rdd", "transformation", "partitions", "depends on", "determinism",
                   "storage"):
        table.add_column(column)
    for r in ctx.rdds:
        deps = ", ".join(f"wide ← {d.parent.id} (shuffle {d.id})" if isinstance(d, Shuffle)
                         else f"narrow ← {d.parent.id}" for d in r.deps) or "input"
        storage = " ".join(x for x in (r.storage, "checkpoint" if r.checkpointed else None)
                           if x) or ""
        table.add_row(str(r.id), r.op + (f" {r.label}" if r.label else ""),
                      str(r.partitions), deps, r.level, storage)
    console.print(table)
    for i, (rdd_id, kind, _) in enumerate(ctx.actions):
        plan = stages(ctx.rdds[rdd_id])
        console.print(f"action {i}: {kind} of RDD {rdd_id}, {len(plan)} stage(s)")
        for s in plan:
            after = f", after stage {', '.join(map(str, s.parents))}" if s.parents else ""
            console.print(f"  stage {s.id}: {s.kind}, {s.rdd.partitions} tasks, RDDs "
                          f"{', '.join(map(str, s.rdds))}{after}")
    if png:
        _draw(lineage_graph(ctx.rdds), the_job.name, Path(png))
        console.print(f"drawn: {png}")
    return EXIT_OK


def _load(name: str):
    """A bundled job by name, or FILE.py:NAME."""
    from faultlab.protocols.rdd.context import Job
    from faultlab.protocols.rdd.jobs import bundled_jobs

    jobs = bundled_jobs()
    if name in jobs:
        return jobs[name]
    path, _, attr = name.rpartition(":")
    if not path.endswith(".py") or not attr:
        raise FaultlabError(f"unknown job {name!r}: name a bundled job "
                            f"({', '.join(jobs)}) or FILE.py:NAME")
    if not Path(path).is_file():
        raise FaultlabError(f"no such job file: {path}")
    spec = importlib.util.spec_from_file_location("faultlab_user_job", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the user's file: say what went wrong, in one line
        raise FaultlabError(f"cannot load {path}: {type(e).__name__}: {e}") from None
    job = getattr(module, attr, None)
    if not isinstance(job, Job):
        raise FaultlabError(f"{path} defines no Job named {attr!r}")
    return job


def _draw(graph, title: str, path: Path) -> None:
    import networkx as nx

    plt = pyplot("--png")

    # generations left to right, wrapped into rows of WRAP so long jobs stay readable
    wrap, rows, width = 8, 0, 0
    for depth, layer in enumerate(nx.topological_generations(graph)):
        row, col = divmod(depth, wrap)
        for i, node in enumerate(sorted(layer)):
            graph.nodes[node]["pos"] = (col * 2.0, -row * 3.0 - i * 1.2)
        rows, width = row + 1, max(width, col + 1)
    pos = nx.get_node_attributes(graph, "pos")
    colours = {"determinate": "#8fd694", "unordered": "#f5d76e", "indeterminate": "#f08a7e"}
    fig, ax = plt.subplots(figsize=(2 + width * 1.6, 1.5 + rows * 2.2))
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_size=500, node_color=[
        colours[graph.nodes[n]["level"]] for n in graph])
    nx.draw_networkx_labels(graph, pos, ax=ax, font_size=7, labels={
        n: f"{n}\n{graph.nodes[n]['op']}" for n in graph})
    for kind, style in (("narrow", "solid"), ("wide", "dashed")):
        edges = [(a, b) for a, b, d in graph.edges(data=True) if d["kind"] == kind]
        nx.draw_networkx_edges(graph, pos, edgelist=edges, ax=ax, style=style,
                               arrows=True, node_size=500)
    ax.set_title(f"{title}: dashed = shuffle; green determinate, yellow unordered, "
                 "red indeterminate", fontsize=9)
    ax.axis("off")
    save(fig, path, dpi=120)
