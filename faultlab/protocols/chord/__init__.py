"""Chord (see docs/chord.md): the node with its two modes and the key-value store
(`node.py`), Zave's ring properties on a snapshot of pointers (`invariants.py`) checked after
every step (`monitor.py`), the clients' lookups, gets and puts (`workload.py`), the checks of
a finished run (`checks.py`) and the declaration (`protocol.py`)."""
