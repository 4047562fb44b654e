"""The client: one process submitting the bundled jobs in turn to the driver, each an op
whose completion carries the job's result (ok) or its abort (fail)."""
from __future__ import annotations

from typing import Any

from faultlab.sim.workload import OpGenerator


class JobOps(OpGenerator):
    def __init__(self, workload, config, rng, jobs: tuple[str, ...]) -> None:
        super().__init__(workload, config, rng)
        self.jobs = jobs

    def next_op(self, n: int) -> tuple[str, Any]:
        return "job", [self.jobs[n % len(self.jobs)]]

    def node_for(self, f: str, value, members) -> str:
        return "driver"  # jobs are submitted to the driver

    def homes(self, members) -> tuple[str, ...]:
        return ("driver",)  # spark-submit runs beside the driver
