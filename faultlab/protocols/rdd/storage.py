"""The storage node: a reliable file system (HDFS, S3) holding reliable checkpoints and the
files jobs save. The nemesis never touches it; its data is synced before it answers."""
from __future__ import annotations

from faultlab.sim.node import Node, canonical


class Storage(Node):
    def start(self) -> None:
        self.recover()

    def recover(self) -> None:
        self.files: dict = dict(self.ctx.disk.get("files", {}))

    def state(self):
        return canonical({"files": self.files})

    def on_message(self, src: str, msg: tuple) -> None:
        kind = msg[0]
        if kind == "write":  # a task keeps a checkpoint partition, under its own name: the
            _, task_id, key, records = msg  # driver commits the write of the task it accepts
            self._keep(("checkpoint", *key, task_id), records)
            self.ctx.send(src, ("written", task_id, key))
        elif kind == "read":
            _, task_id, key = msg
            self.ctx.send(src, ("fetched", task_id, key, self.files.get(key)))
        elif kind == "save":  # the driver writes a job's output file
            _, path, records = msg
            self._keep(("file", path), records)

    def _keep(self, key: tuple, records: list) -> None:
        self.files[key] = records
        self.ctx.disk.put("files", dict(self.files))
        self.ctx.disk.sync()
