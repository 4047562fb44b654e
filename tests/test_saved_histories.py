"""Every bundle kept in the repository's histories/ folder still replays to its fingerprint
and still fails its check: a change that alters traces shows up here first."""
from __future__ import annotations

from pathlib import Path

import pytest

from faultlab.campaign.replay import replay

BUNDLES = sorted((Path(__file__).resolve().parents[1] / "histories").glob("*.json"))


def test_the_folder_holds_bundles():
    assert BUNDLES


@pytest.mark.parametrize("path", BUNDLES, ids=[p.name for p in BUNDLES])
def test_saved_bundle_replays_exactly(path):
    rep = replay(path)
    assert rep.identical, f"{path.name}: {rep.bundle.fingerprint} != {rep.result.fingerprint}"
    assert sorted(v.name for v in rep.result.failed) == sorted(rep.bundle.failing_checks)
