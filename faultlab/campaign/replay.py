"""Replay a saved bundle: re-run its spec and compare the trace fingerprint."""
from __future__ import annotations

from pathlib import Path

import attrs

from faultlab.campaign.runner import RunResult, run
from faultlab.campaign.spec import RunSpec
from faultlab.errors import FaultlabError
from faultlab.histories.bundle import Bundle, load_bundle
from faultlab.histories.errors import BundleError


@attrs.frozen
class ReplayResult:
    bundle: Bundle
    result: RunResult

    @property
    def identical(self) -> bool:
        """True when the re-run produced exactly the saved trace."""
        return self.result.fingerprint == self.bundle.fingerprint

    @property
    def still_fails(self) -> bool:
        return bool(self.result.failed)


def replay(path: str | Path) -> ReplayResult:
    bundle = load_bundle(path)
    try:
        spec = RunSpec.from_dict(bundle.spec)
    except FaultlabError as e:
        raise BundleError(f"{path}: bundle field 'spec': {e}") from None
    return ReplayResult(bundle, run(spec))
