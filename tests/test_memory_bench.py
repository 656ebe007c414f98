"""``python -m lumaflow.bench.memory`` names every stub by its model and sums the server's memory both ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from lumaflow.bench.memory import served_memory, table
from tests.fixtures import FAST_MODELS, small_repository

pytestmark = pytest.mark.served


def test_every_stub_is_counted_under_its_model_and_pss_is_below_the_rss_sum(
    model_repository: Path, tmp_path: Path
) -> None:
    report = served_memory(small_repository(model_repository, tmp_path / "repository"))
    stubs = report["stub_rss_mib"]
    assert len(stubs["espcn_x2"]) == 2  # LEAN_PHOTO_NETWORK: its second instance is a second stub
    assert set(stubs) <= set(FAST_MODELS) and report["stubs"] == sum(len(sizes) for sizes in stubs.values())
    assert all(size > 20 for sizes in stubs.values() for size in sizes)  # a python interpreter at least
    # The stubs share libraries and the server's shared-memory regions: PSS counts those pages once.
    assert 0 < report["server_pss_mib"] < report["server_rss_sum_mib"]
    assert "| espcn_x2 | 2 |" in table(report)
