"""Transaction checking of long list-append histories: transactions per second and peak
memory, as Elle's users would run it.

    python benchmarks/transactions.py [--max 100000] [--dir DIR]

Generates list-append histories the way Jepsen's list-append workload does (10 clients,
transactions of 1-4 micro-ops, half reads and half appends, 10 live keys, each retired after
32 appends), executed atomically at a point inside each transaction's interval, so they are
strict serializable; plus, at the largest size, the same history with one read bent to a
stale prefix (an anomaly to find and explain). Times `faultlab check --model list-append`
as a whole process (reading included) and reads its peak memory from /usr/bin/time, then
shows the budget: the largest file again with a time limit too short to finish, which must
end in an unknown verdict (exit 2). Last, reading and checking the largest file timed apart
in this process. Seeded, so every run writes the same files.
"""
from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from pathlib import Path

from long_histories import FAULTLAB, _timeline, timed

KEYS, WRITES_PER_KEY = 10, 32


def list_append_history(n: int, seed: int) -> list[str]:
    """n list-append transactions in Jepsen's history.edn shape, one op map per line."""
    rng = random.Random(seed)
    lists: dict[int, list[int]] = {}
    live = list(range(KEYS))
    next_key = [KEYS]
    next_value = [0]

    def edn(mops) -> str:
        def v(x):
            return "nil" if x is None else (f"[{' '.join(map(str, x))}]"
                                            if isinstance(x, list) else str(x))
        return "[" + " ".join(f"[:{f} {k} {v(x)}]" for f, k, x in mops) + "]"

    def apply(p, i):
        planned, done = [], []
        for _ in range(rng.randint(1, 4)):
            slot = rng.randrange(KEYS)
            k = live[slot]
            if rng.random() < 0.5:
                done.append(("r", k, list(lists.get(k, ()))))
                planned.append(("r", k, None))
            else:
                next_value[0] += 1
                lists.setdefault(k, []).append(next_value[0])
                done.append(("append", k, next_value[0]))
                planned.append(("append", k, next_value[0]))
                if len(lists[k]) >= WRITES_PER_KEY:  # retire the key, as Jepsen does
                    live[slot] = next_key[0]
                    next_key[0] += 1
        line = "{{:type :{}, :f :txn, :process {}, :value {}}}"
        return line.format("invoke", p, edn(planned)), line.format("ok", p, edn(done))

    return _timeline(n, 10, rng, apply)


def stale_read(lines: list[str]) -> list[str]:
    """The history with one completed read, in the middle, showing an empty list instead:
    a G-single-realtime anomaly (and usually a G-single)."""
    out = list(lines)
    for i in range(len(out) // 2, len(out)):
        read = re.search(r"\[:r (\d+) \[[\d ]+\]", out[i])
        if ":ok" in out[i] and read:
            out[i] = out[i][:read.start()] + f"[:r {read[1]} []" + out[i][read.end():]
            return out
    raise ValueError("no read to bend")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    sizes = [n for n in (1_000, 10_000, 100_000, 1_000_000) if n <= args.max]
    with tempfile.TemporaryDirectory() as tmp:
        where = args.dir or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        print(f"{'history':28} {'txns':>9} {'seconds':>8} {'txns/s':>9} {'peak MB':>8}  "
              "verdict")
        files = {}
        for n in sizes:
            lines = list_append_history(n, seed=n)
            files[n] = path = where / f"list-append-{n}.edn"
            path.write_text("\n".join(lines) + "\n")
            _row(f"list-append {n:,}", n, path)
        n = sizes[-1]
        bent = where / f"list-append-{n}-stale-read.edn"
        bent.write_text("\n".join(stale_read(files[n].read_text().splitlines())) + "\n")
        _row("... one stale read", n, bent)
        _row("... --time-limit 0.2", n, files[n], "--time-limit", "0.2")
        _phases(files[n], n)


def _phases(path: Path, n: int) -> None:
    """Reading and checking timed apart, in this process: the checker's own rate."""
    from faultlab.checkers.transactions import check_transactions
    from faultlab.histories.formats import read_history

    started = time.perf_counter()
    history = read_history(path).history
    read = time.perf_counter() - started
    verdict = check_transactions(history, "list-append")
    check = time.perf_counter() - started - read
    print(f"\nin one process, {n:,} transactions: reading {read:.2f} s "
          f"({n / read:,.0f} txns/s), checking {check:.2f} s ({n / check:,.0f} txns/s): "
          f"{verdict.explanation}")


def _row(name: str, n: int, path: Path, *extra: str) -> None:
    cmd = [*FAULTLAB, "check", str(path), "--model", "list-append", *extra]
    secs, mb, code, _ = timed(cmd, with_code=True)
    verdict = {0: "strict serializable", 1: "anomaly found", 2: "unknown"}.get(code, code)
    print(f"{name:28} {n:>9,} {secs:8.2f} {n / secs:9,.0f} {mb:8.0f}  {verdict}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
