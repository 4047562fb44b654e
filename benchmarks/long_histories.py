"""Linearizability checking of long histories: time and peak memory by length, against
Porcupine on the same files.

    python benchmarks/long_histories.py [--max 1000000] [--porcupine PATH/porc.test]
                                        [--dir DIR] [--time-limit S]

Generates linearizable histories of 10^3 ... --max operations: the findings' sequential
register of ever-growing values ("counter"), a cas register of values 0-9 (both in
Porcupine's etcd log format) and a key-value store of 10 keys (its kv log format), the last
two sequential (one op at a time, processes taking turns) and concurrent (10 clients whose
ops overlap), then times `faultlab check` on each file as a whole process (reading included) and
reads its peak memory from /usr/bin/time. With --porcupine (the test binary built as
`shared/tools/porcupine-timing` describes, plus a `TestZZKvFile` reading $ZZ_KV_FILE with
its kv model), Porcupine checks the same files in the same sitting, alternating, and the
ratio is printed, then whole-process times on Porcupine's own corpus (the etcd logs and
kv/c50-ok). Histories are generated from a seeded simulation, so every run writes the same
files.
"""
from __future__ import annotations

import argparse
import heapq
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FAULTLAB = [str(Path(sys.executable).with_name("faultlab"))]  # the installed console script


def _events(n: int, clients: int, rng: random.Random):
    """(process, invoke time, linearization time, complete time) for n ops: one at a time
    when clients == 1 (processes 0..7 taking turns), else `clients` overlapping."""
    if clients == 1:
        t = 0
        for i in range(n):
            yield i % 8, t, t + 1, t + 2
            t += 3
        return
    ready = [(rng.randint(0, 10), c) for c in range(clients)]
    heapq.heapify(ready)
    for _ in range(n):
        start, c = heapq.heappop(ready)
        duration = rng.randint(2, 40)
        yield c, start, start + rng.randint(1, duration - 1), start + duration
        heapq.heappush(ready, (start + duration + rng.randint(1, 20), c))


def _timeline(n: int, clients: int, rng: random.Random, apply):
    """History lines in time order: `apply(process, i)` runs at each op's linearization
    point and returns (invoke line, completion line)."""
    heap = []
    for i, (p, start, point, end) in enumerate(_events(n, clients, rng)):
        heap.append((point, 1, i, p, None))
        heap.append((start, 0, i, p, None))
        heap.append((end, 2, i, p, None))
    heap.sort()
    lines, pending = [], {}
    for _, kind, i, p, _ in heap:
        if kind == 1:
            pending[i] = apply(p, i)
        elif kind == 0:
            pending[i] = None
            lines.append((i, 0))
        else:
            lines.append((i, 2))
    out = []
    for i, kind in lines:
        out.append(pending[i][0 if kind == 0 else 1])
    return out


def register_history(n: int, clients: int, seed: int) -> list[str]:
    """A cas register, in Porcupine's etcd log shape; the first op to take effect writes,
    so no read sees the empty register."""
    rng = random.Random(seed)
    state = [None]

    def line(p, typ, f, value):
        return f"INFO  jepsen.util - {p}\t:{typ}\t:{f}\t{value}"

    def apply(p, i):
        # (ops take effect in time order, which is not the order of `i` when they overlap)
        r = 0.0 if state[0] is None else rng.random()
        if r < 0.5:
            v = rng.randint(0, 9)
            state[0] = v
            return line(p, "invoke", "write", v), line(p, "ok", "write", v)
        if r < 0.8:
            return line(p, "invoke", "read", "nil"), line(p, "ok", "read", state[0])
        old = state[0] if rng.random() < 0.5 else rng.randint(0, 9)
        new = rng.randint(0, 9)
        ok = state[0] == old
        if ok:
            state[0] = new
        return (line(p, "invoke", "cas", f"[{old} {new}]"),
                line(p, "ok" if ok else "fail", "cas", f"[{old} {new}]"))

    return _timeline(n, clients, rng, apply)


def counter_register_history(n: int, clients: int, seed: int) -> list[str]:
    """The findings' sequential shape: processes 0..7 in turn, every third op a write of the
    next integer, the others reads of the current value (so no two states repeat)."""
    lines = []
    for i in range(n):
        p, v = i % 8, i // 3 + 1
        if i % 3 == 0:
            lines += [f"INFO  jepsen.util - {p}\t:invoke\t:write\t{v}",
                      f"INFO  jepsen.util - {p}\t:ok\t:write\t{v}"]
        else:
            lines += [f"INFO  jepsen.util - {p}\t:invoke\t:read\tnil",
                      f"INFO  jepsen.util - {p}\t:ok\t:read\t{v}"]
    return lines


def kv_history(n: int, clients: int, seed: int) -> list[str]:
    """A key-value store of 10 keys with get, put and append, in Porcupine's kv log shape."""
    rng = random.Random(seed)
    kv: dict[str, str] = {}

    def line(p, typ, f, key, value):
        shown = "nil" if value is None else f'"{value}"'
        return f'{{:process {p}, :type :{typ}, :f :{f}, :key "{key}", :value {shown}}}'

    def apply(p, i):
        key = str(rng.randrange(10))
        r = rng.random()
        if r < 0.5:
            return line(p, "invoke", "get", key, None), line(p, "ok", "get", key,
                                                             kv.get(key, ""))
        value = f"x {p} {i} y"
        f = "put" if r < 0.6 else "append"
        kv[key] = value if f == "put" else kv.get(key, "") + value
        return line(p, "invoke", f, key, value), line(p, "ok", f, key, value)

    return _timeline(n, clients, rng, apply)


def timed(cmd: list[str], env: dict | None = None, limit: float = 600,
          with_code: bool = False) -> tuple:
    """(wall seconds, peak MB) of a command, the peak from /usr/bin/time (its own wall time
    has only 10 ms steps); with its exit code and output too if `with_code`."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        started = time.perf_counter()
        try:
            proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name, *cmd],
                                  env=env, capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            return (float("nan"), float("nan")) + ((None, "") if with_code else ())
        wall = time.perf_counter() - started
        kb = out.read().split()[-1]
        if proc.returncode not in (0, 1, 2):
            print(f"  ({' '.join(cmd[:4])} failed: {proc.stderr.strip()[:200]})", flush=True)
        return (wall, int(kb) / 1024) + ((proc.returncode, proc.stdout) if with_code
                                          else ())


def best(a: tuple, b: tuple) -> tuple:
    """The shorter time of two timings, the larger peak, and the latest verdict."""
    return min(a[0], b[0]), max(a[1], b[1]), b[2]


OUR_VERDICTS = {0: "valid", 1: "INVALID", 2: "unknown"}


def porcupine_verdict(out: str) -> str:
    """The harness prints `<file> true|false` (then PASS)."""
    ends = [line.split()[-1] for line in out.splitlines() if line.strip()]
    return next(({"true": "valid", "false": "INVALID"}[w] for w in ends
                 if w in ("true", "false")), "unknown")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=100_000, help="longest history (ops)")
    parser.add_argument("--porcupine", type=Path, help="Porcupine's built test binary")
    parser.add_argument("--dir", type=Path, help="where to write the histories [temp dir]")
    parser.add_argument("--time-limit", type=float, default=600)
    parser.add_argument("--only", choices=("counter", "cas-register", "kv"),
                        help="one kind of history")
    parser.add_argument("--sizes", type=int, nargs="+", help="lengths instead of powers of 10")
    args = parser.parse_args()
    # As an installed package would be: without this, PYTHONDONTWRITEBYTECODE (set on some
    # machines) makes every timed command compile faultlab's modules first.
    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    str(Path(__file__).resolve().parents[1] / "faultlab")], check=True)
    where = args.dir or Path(tempfile.mkdtemp(prefix="long-histories-"))
    where.mkdir(parents=True, exist_ok=True)
    sizes = args.sizes or [10 ** k for k in range(3, 7) if 10 ** k <= args.max]
    if not args.sizes and args.max not in sizes:
        sizes.append(args.max)
    print(f"{'history':34} {'ops':>9} {'MB':>6} {'faultlab':>9} {'peak MB':>8} {'verdict':>8}"
          + (f" {'porcupine':>10} {'peak MB':>8} {'verdict':>8} {'ratio':>6}"
             if args.porcupine else ""))
    kinds = (("cas-register", "counter", counter_register_history, "etcd-log", (1,)),
             ("cas-register", "", register_history, "etcd-log", (1, 10)),
             ("kv", "", kv_history, "kv-log", (1, 10)))
    for model, variant, make, fmt, shapes in kinds:
        if args.only and args.only != (variant or model):
            continue
        for clients in shapes:
            shape = "sequential" if clients == 1 else "concurrent"
            for n in sizes:
                name = "-".join(x for x in (model, variant, shape, str(n)) if x)
                path = where / f"{name}.{'log' if fmt == 'etcd-log' else 'txt'}"
                if not path.exists():
                    path.write_text("\n".join(make(n, clients, seed=n)) + "\n")
                mb = path.stat().st_size / 1e6
                label = " ".join(x for x in (model, variant, shape) if x)
                ours_cmd = ([*FAULTLAB, "check", str(path), "--model", model,
                             "--time-limit", str(args.time_limit)], None)
                var = "ZZ_FILE" if fmt == "etcd-log" else "ZZ_KV_FILE"
                test = "TestZZFile" if fmt == "etcd-log" else "TestZZKvFile"
                theirs_cmd = ([str(args.porcupine), "-test.run", test],
                              dict(os.environ, **{var: str(path)}))
                # Short runs are noisy: the best of nine (three past 20,000 ops), alternating;
                # the longest run once.
                rounds = 9 if n <= 20_000 else 3 if n <= 100_000 else 1
                ours = theirs = (float("inf"), 0.0, "")
                for _ in range(rounds):
                    wall, mb_peak, code, _ = timed(*ours_cmd, limit=args.time_limit * 2,
                                                   with_code=True)
                    ours = best(ours, (wall, mb_peak, OUR_VERDICTS.get(code, "error")))
                    if args.porcupine:
                        wall, mb_peak, _, out = timed(*theirs_cmd, with_code=True,
                                                      limit=args.time_limit * 2)
                        theirs = best(theirs, (wall, mb_peak, porcupine_verdict(out)))
                row = (f"{label:34} {n:>9,} {mb:>6.1f} {ours[0]:>8.2f}s "
                       f"{ours[1]:>8.0f} {ours[2]:>8}")
                if args.porcupine:
                    row += (f" {theirs[0]:>9.2f}s {theirs[1]:>8.0f} {theirs[2]:>8} "
                            f"{theirs[0] / ours[0] if ours[0] else float('nan'):>6.2f}")
                print(row, flush=True)
    print(f"(ratio: Porcupine's time over faultlab's; files in {where})")
    if args.porcupine and CORPUS.is_dir():
        corpus_versus(args.porcupine)


CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "porcupine"


def corpus_versus(porcupine: Path, rounds: int = 5) -> None:
    """Whole-process times on Porcupine's own corpus, best of `rounds`, alternating: the 102
    etcd logs (cas-register) and kv/c50-ok (kv, by key). Porcupine runs from its checkout,
    whose test_data holds the same files."""
    cwd = porcupine.resolve().parent
    cases = [("102 etcd logs", [*FAULTLAB, "check", str(CORPUS / "jepsen")], "TestZZEtcdAll"),
             ("kv/c50-ok", [*FAULTLAB, "check", str(CORPUS / "kv" / "c50-ok.txt"),
                            "--model", "kv"], "TestZZKv50Ok")]
    print(f"\n{'corpus (whole process)':34} {'faultlab':>9} {'porcupine':>10} {'ratio':>6}")
    for name, ours_cmd, test in cases:
        ours = theirs = float("inf")
        for _ in range(rounds):
            ours = min(ours, timed(ours_cmd)[0])
            theirs = min(theirs, timed_in(cwd, [str(porcupine.resolve()), "-test.run",
                                                test])[0])
        print(f"{name:34} {ours:>8.2f}s {theirs:>9.2f}s {theirs / ours:>6.2f}", flush=True)


def timed_in(cwd: Path, cmd: list[str]) -> tuple[float, float]:
    here = os.getcwd()
    os.chdir(cwd)
    try:
        return timed(cmd)
    finally:
        os.chdir(here)


if __name__ == "__main__":
    main()
