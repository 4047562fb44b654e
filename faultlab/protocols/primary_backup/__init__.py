"""Primary-backup replicated set: the worked example of a protocol (see
docs/writing-a-protocol.md). `node.py` is the replica, `protocol.py` what the harness reads."""
