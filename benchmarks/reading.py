"""How fast each history format is read, in MB/s (`faultlab check` reads before it checks).

    python benchmarks/reading.py [--ops 400000] [--dir DIR]

Writes one file per shape a Jepsen user brings, each of about --ops ops from 10 processes
on 8 independent keys: history.edn in both key orders Jepsen has written (with `:error` on
failed ops, nemesis ops among them), Elle's list-append transactions, history.txt, a
jepsen.log with other log lines between the ops, Porcupine's kv log and our JSON lines.
Each is read in this process, best of three, and the rate printed. The files are the same
on every run (seeded).
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from long_histories import kv_history  # noqa: E402


def register_ops(n: int, seed: int = 1):
    """(index, time, type, process, f, value, error) of a keyed cas register's ops, the
    values as EDN text; a nemesis op every 500."""
    rng = random.Random(seed)
    t = 0
    index = 0
    for i in range(n // 2):
        if i % 500 == 250:
            for typ in ("invoke", "info"):
                t += rng.randrange(1000, 50_000)
                yield index, t, typ, "nemesis", "start-partition", "nil", None
                index += 1
        p, k = i % 10, rng.randrange(8)
        f = rng.choice(("read", "write", "cas"))
        value = {"read": "nil", "write": str(rng.randrange(5)),
                 "cas": f"[{rng.randrange(5)} {rng.randrange(5)}]"}[f]
        t += rng.randrange(1000, 50_000)
        yield index, t, "invoke", p, f, f"[{k} {value}]", None
        index += 1
        typ = "fail" if f == "cas" and rng.random() < 0.5 else "ok"
        seen = str(rng.randrange(5)) if f == "read" else value
        t += rng.randrange(1000, 50_000)
        yield index, t, typ, p, f, f"[{k} {seen}]", ":mismatch" if typ == "fail" else None
        index += 1


def _process(p) -> str:
    return f":{p}" if isinstance(p, str) else str(p)


def edn_before_history(n: int) -> list[str]:
    """Jepsen's history.edn before jepsen.history: type, f, value, time, process, index."""
    return [f"{{:type :{typ}, :f :{f}, :value {v}, :time {t}, :process {_process(p)}, "
            f":index {i}" + (f", :error {e}" if e else "") + "}"
            for i, t, typ, p, f, v, e in register_ops(n)]


def edn_records(n: int) -> list[str]:
    """jepsen.history's records: index, time, type, process, f, value, then the rest."""
    return [f"{{:index {i}, :time {t}, :type :{typ}, :process {_process(p)}, :f :{f}, "
            f":value {v}" + (f", :error {e}" if e else "") + "}"
            for i, t, typ, p, f, v, e in register_ops(n)]


def list_append(n: int, seed: int = 2) -> list[str]:
    """Elle's list-append transactions, as jepsen.history records."""
    rng = random.Random(seed)
    lists: dict[int, list[int]] = {}
    lines = []
    for i in range(n // 2):
        p, txn, seen = i % 10, [], []
        for _ in range(rng.randint(1, 4)):
            k = rng.randrange(8)
            if rng.random() < 0.5:
                lists.setdefault(k, []).append(i)
                txn.append(f"[:append {k} {i}]")
                seen.append(txn[-1])
            else:
                txn.append(f"[:r {k} nil]")
                seen.append(f"[:r {k} [{' '.join(map(str, lists.get(k, [])[-8:]))}]]")
        for j, (typ, ops) in enumerate((("invoke", txn), ("ok", seen))):
            lines.append(f"{{:index {2 * i + j}, :time {i * 1000 + j}, :type :{typ}, "
                         f":process {p}, :f :txn, :value [{' '.join(ops)}]}}")
    return lines


def history_txt(n: int) -> list[str]:
    return [f"{_process(p)}\t:{typ}\t:{f}\t{v}" + (f"\t{e}" if e else "")
            for _, _, typ, p, f, v, e in register_ops(n)]


def jepsen_log(n: int) -> list[str]:
    lines = []
    for row in history_txt(n):
        lines.append(f"INFO  jepsen.util - {row}")
        if len(lines) % 20 == 0:
            lines.append("INFO  jepsen.core - Worker 3 starting")
    return lines


def jsonl(n: int) -> list[str]:
    import orjson

    from faultlab.histories.formats import parse_history

    history = parse_history("\n".join(edn_records(n)), "jepsen-edn")
    return [orjson.dumps(op._asdict()).decode() for op in history]


SHAPES = (("history.edn (Jepsen before jepsen.history)", "jepsen-edn", edn_before_history),
          ("history.edn (jepsen.history records)", "jepsen-edn", edn_records),
          ("history.edn (Elle list-append)", "jepsen-edn", list_append),
          ("history.txt", "history-txt", history_txt),
          ("jepsen.log", "jepsen-log", jepsen_log),
          ("Porcupine kv log", "kv-log", lambda n: kv_history(n // 2, 10, seed=1)),
          ("faultlab JSON lines", "jsonl", jsonl))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=400_000)
    parser.add_argument("--dir", type=Path, help="where to write the files [temp dir]")
    args = parser.parse_args()
    from faultlab.histories.formats import read_history

    where = args.dir or Path(tempfile.mkdtemp(prefix="reading-"))
    where.mkdir(parents=True, exist_ok=True)
    print(f"{'file':44} {'format':>12} {'MB':>6} {'ops':>9} {'seconds':>8} {'MB/s':>6} "
          f"{'ops/s':>9}")
    for i, (name, fmt, make) in enumerate(SHAPES):
        path = where / f"{i}-{fmt}.txt"
        if not path.exists():
            path.write_text("\n".join(make(args.ops)) + "\n")
        mb = path.stat().st_size / 1e6
        seconds = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            loaded = read_history(path)
            seconds = min(seconds, time.perf_counter() - started)
        assert loaded.format == fmt, (name, loaded.format)
        n = len(loaded.history)
        print(f"{name:44} {fmt:>12} {mb:>6.1f} {n:>9,} {seconds:>7.2f}s {mb / seconds:>6.1f} "
              f"{n / seconds:>9,.0f}", flush=True)
    print(f"(files in {where})")


if __name__ == "__main__":
    main()
