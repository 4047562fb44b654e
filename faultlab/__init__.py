"""faultlab: find bugs in distributed protocols with deterministic simulation and Jepsen-style
checking.

The public API is small: describe a run with `RunSpec`, execute it with `run`, many seeds with
`run_campaign`, and replay a saved bundle with `replay`. Histories and checkers
(`faultlab.histories`, `faultlab.checkers`) work alone, without the simulator.
"""
__version__ = "0.1.0"

# Lazy exports: `import faultlab.histories` (e.g. to check a Jepsen file) must not pull in the
# simulator, so the top-level names are imported on first use.
_EXPORTS = {
    "CampaignResult": "faultlab.campaign.campaign", "run_campaign": "faultlab.campaign.campaign",
    "ReplayResult": "faultlab.campaign.replay", "replay": "faultlab.campaign.replay",
    "RunResult": "faultlab.campaign.runner", "run": "faultlab.campaign.runner",
    "RunSpec": "faultlab.campaign.spec",
    "History": "faultlab.histories", "Op": "faultlab.histories",
    "Fault": "faultlab.nemesis.faults", "Trigger": "faultlab.nemesis.faults",
    "NemesisConfig": "faultlab.nemesis.generator",
    "Schedule": "faultlab.nemesis.schedule", "Workload": "faultlab.sim.workload",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'faultlab' has no attribute {name!r}")


__all__ = [
    "CampaignResult", "Fault", "History", "NemesisConfig", "Op", "ReplayResult", "RunResult",
    "RunSpec", "Schedule", "Trigger", "Workload", "__version__", "replay", "run",
    "run_campaign",
]
