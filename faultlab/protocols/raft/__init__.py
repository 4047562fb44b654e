"""Raft with a linearizable KV store: the node (`node.py`), its safety monitor
(`monitor.py`), the clients' operations (`workload.py`), the history checks (`checks.py`)
and the declaration the harness reads (`protocol.py`)."""
