"""Two-phase commit over a sharded transactional store (see docs/twopc.md): coordinators
(`coordinator.py`) run each client transaction through prepare, votes and a logged
decision; participants (`participant.py`) each hold a shard of the keys under strict
two-phase locking (`locks.py`); `workload.py` makes list-append, rw-register and bank
transactions; `checks.py` judges atomic commitment and serializability."""
