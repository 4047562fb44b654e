"""A small Spark: RDDs with lineage, a DAG of stages cut at shuffles, and the plain local
evaluation a job's result under faults is judged against."""
from faultlab.protocols.rdd.context import Context, Job, JobError
from faultlab.protocols.rdd.local import evaluate

__all__ = ["Context", "Job", "JobError", "evaluate"]
