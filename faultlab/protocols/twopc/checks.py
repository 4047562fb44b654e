"""How a two-phase commit run is judged: atomic commitment from the nodes' final states and
logs (AC1-AC5), and the transaction checker on the history.

Transactions are named as the transaction checker names them, T<index of the client's
invocation> (a transaction's id in the protocol is the client request's number, the n-th
invocation of the history).
"""
from __future__ import annotations

from faultlab.checkers.transactions import check_transactions
from faultlab.checkers.verdict import Verdict
from faultlab.histories.record import RunRecord

TRANSACTIONS_LIMIT_S = 20.0  # a harder history is reported as "unknown"


class Logs:
    """What the final states say about each transaction: every participant's vote and
    outcomes, the coordinators' commit records, and where each transaction's history ops
    are."""

    def __init__(self, record: RunRecord):
        self.record = record
        self.votes: dict[int, dict[str, str]] = {}      # txn -> participant -> yes/no
        self.outcomes: dict[int, dict[str, tuple]] = {}  # txn -> participant -> outcomes
        self.in_doubt: dict[str, dict[int, int]] = {}   # participant -> txn -> voted at
        self.commits: dict[int, tuple] = {}             # txn -> (coordinator, participants)
        for node, state in sorted(record.states.items()):
            if state is None:
                continue
            state = dict(state)
            if node.startswith("p"):
                for txn, vote in state["votes"]:
                    self.votes.setdefault(txn, {})[node] = vote
                for txn, decided in state["outcomes"]:
                    self.outcomes.setdefault(txn, {})[node] = decided
                for txn, (_, work) in state["txns"]:  # canonical Work records
                    work = dict(work)
                    if work["phase"] == "prepared":
                        self.in_doubt.setdefault(node, {})[txn] = work["voted_at"]
            else:
                for txn, (participants, _) in state["commits"]:
                    self.commits[txn] = (node, participants)
        self.invocations = [op for op in record.history if op.type == "invoke"]

    def name(self, txn: int) -> str:
        op = self.op(txn)
        return f"T{op.index}" if op is not None else f"transaction {txn}"

    def op(self, txn: int):
        return self.invocations[txn - 1] if 0 < txn <= len(self.invocations) else None

    def participants(self, txn: int) -> set[str]:
        nodes = set(self.votes.get(txn, ())) | set(self.outcomes.get(txn, ()))
        if txn in self.commits:
            nodes |= set(self.commits[txn][1])
        return nodes

    def committed(self, txn: int) -> list[str]:
        """Who decided commit: participants whose last outcome is commit, the coordinator
        if it logged it."""
        who = [p for p, o in sorted(self.outcomes.get(txn, {}).items()) if o[-1][0] == "commit"]
        if txn in self.commits:
            who.insert(0, self.commits[txn][0])
        return who

    def story(self, txn: int) -> str:
        """Each participant's vote and outcomes, and the coordinator's record, in a line."""
        parts = []
        if txn in self.commits:
            parts.append(f"{self.commits[txn][0]} logged commit")
        for p in sorted(self.participants(txn)):
            vote = self.votes.get(txn, {}).get(p, "no vote on record")
            vote = f"voted {vote}" if vote in ("yes", "no") else vote
            done = "; then ".join(f"{o} at {t / 1e6:.3f}s ({how})"
                                  for o, t, how in self.outcomes.get(txn, {}).get(p, ()))
            parts.append(f"{p} {vote}" + (f", {done}" if done else ", undecided"))
        return "; ".join(parts)

    def verdict(self, name: str, txn: int, problem: str) -> Verdict:
        op = self.op(txn)
        times = [t for o in self.outcomes.get(txn, {}).values() for _, t, _ in o]
        return Verdict(name, False, f"{self.name(txn)} {problem}: {self.story(txn)}",
                       {"txn": self.name(txn), "about": {"txn": txn},
                        "subject": f"{self.name(txn)} (txn={txn})"},
                       ops=(op.index,) if op is not None else (),
                       time=min(times, default=op.time if op is not None else None))


def _judge(name: str, record: RunRecord, find) -> Verdict:
    """The first transaction `find(logs, txn)` finds a problem with, or a pass."""
    logs = Logs(record)
    txns = sorted(set(logs.votes) | set(logs.outcomes) | set(logs.commits))
    for txn in txns:
        problem = find(logs, txn)
        if problem:
            return logs.verdict(name, txn, problem)
    return Verdict(name, True, f"{len(txns)} transactions")


def agreement(record: RunRecord) -> Verdict:
    """AC1: no transaction committed at one node and aborted at another."""
    def find(logs: Logs, txn: int):
        committed = logs.committed(txn)
        aborted = [p for p, o in sorted(logs.outcomes.get(txn, {}).items())
                   if o[-1][0] == "abort"]
        if committed and aborted:
            return f"committed at {', '.join(committed)} and aborted at {', '.join(aborted)}"
    return _judge("agreement", record, find)


def no_reversal(record: RunRecord) -> Verdict:
    """AC2: no participant changes its decision."""
    def find(logs: Logs, txn: int):
        for p, outcomes in sorted(logs.outcomes.get(txn, {}).items()):
            if len({o for o, _, _ in outcomes}) > 1:
                return f"was {' and then '.join(o for o, _, _ in outcomes)} at {p}"
    return _judge("no-reversal", record, find)


def commit_needs_all_yes(record: RunRecord) -> Verdict:
    """AC3: a transaction commits only if every participant voted yes."""
    def find(logs: Logs, txn: int):
        if not logs.committed(txn):
            return None
        missing = [p for p in sorted(logs.participants(txn))
                   if logs.votes.get(txn, {}).get(p) != "yes"]
        if missing:
            return f"committed without a yes vote from {', '.join(missing)}"
    return _judge("commit-needs-all-yes", record, find)


def fault_free_commits(record: RunRecord) -> Verdict:
    """AC4: a transaction every participant voted yes on commits when no fault struck
    between its invocation and its end."""
    windows = _fault_windows(record)
    completions: list[dict] = []  # built on first need: most runs have no candidate

    def find(logs: Logs, txn: int):
        votes = logs.votes.get(txn, {})
        outcomes = logs.outcomes.get(txn, {})
        if not votes or logs.committed(txn) or any(v != "yes" for v in votes.values()):
            return None
        if set(votes) != logs.participants(txn) or not outcomes:
            return None
        op = logs.op(txn)
        if op is None:
            return None
        if not completions:
            completions.append(record.history.completions())
        done = completions[0].get(op.index)
        if done is None:
            return None
        if any(lo <= done.time and op.time <= hi for lo, hi in windows):
            return None
        return "aborted though every participant voted yes and no fault struck"
    return _judge("fault-free-commits", record, find)


def decided_after_heal(record: RunRecord) -> Verdict:
    """AC5: no participant is still in doubt about a transaction it voted on more than the
    liveness bound before the run ended."""
    logs = Logs(record)
    end = max((op.time for op in record.history if op.time is not None), default=0)
    due = end - record.liveness_bound_us
    for p, txns in sorted(logs.in_doubt.items()):
        for txn, voted_at in sorted(txns.items()):
            if voted_at < due:
                return logs.verdict("decided-after-heal", txn,
                                    f"is still in doubt at {p} at the end "
                                    f"({(end - voted_at) / 1e6:.2f}s after its vote)")
    return Verdict("decided-after-heal", True, "no participant left in doubt")


def transactions(record: RunRecord) -> Verdict:
    """The history against strict serializability (bank: every read keeps the total)."""
    config = record.config
    total = config["keys"] * config["balance"] if config["workload"] == "bank" else None
    return check_transactions(record.history, config["workload"], "strict-serializable",
                              time_limit=TRANSACTIONS_LIMIT_S, initial_total=total)


def _fault_windows(record: RunRecord) -> list[tuple[int, int]]:
    """(start, end) of every fault that struck, from the nemesis log."""
    starts, windows = {}, []
    for r in record.faults:
        if r["phase"] == "start":
            starts[r["index"]] = r["time"]
        elif r["index"] in starts:
            windows.append((starts.pop(r["index"]), r["time"]))
    windows.extend((t, record.heal_at) for t in starts.values())
    return windows

