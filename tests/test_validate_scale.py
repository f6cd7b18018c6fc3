"""Validation is linear in the members: a 200,000-member dimension (SSB's part) validates in
seconds. The duplicate-key check this guards used to count every key in the whole list
(quadratic: 30,000 keys took 24.8 s, 200,000 would take about 20 minutes); the bound below is
generous for a noisy machine and far below what the quadratic check needs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from big_members import write_big_model

from labis_olap.errors import ModelError
from labis_olap.model.reader import read_model

MEMBERS = 200_000
BOUND_SECONDS = 20.0


@pytest.fixture()
def no_model_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache folder of the test's own: a cached model would skip validation."""
    monkeypatch.setenv("LABIS_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.usefixtures("no_model_cache")
def test_200000_members_validate_in_seconds(tmp_path: Path) -> None:
    root = write_big_model(tmp_path / "model", MEMBERS)
    start = time.perf_counter()
    model = read_model(root)
    elapsed = time.perf_counter() - start
    assert len(model.members["part"]) == MEMBERS
    assert elapsed < BOUND_SECONDS, f"validating {MEMBERS} members took {elapsed:.1f} s"


@pytest.mark.usefixtures("no_model_cache")
def test_a_duplicate_among_200000_is_found_at_its_row(tmp_path: Path) -> None:
    root = write_big_model(tmp_path / "model", MEMBERS, duplicate=True)
    start = time.perf_counter()
    with pytest.raises(ModelError) as info:
        read_model(root)
    elapsed = time.perf_counter() - start
    text = info.value.rendered
    assert "duplicate member key(s) P0 in 'part'" in text, text
    assert f"part.csv:{MEMBERS + 1}:1" in text, text  # the header is line 1
    assert elapsed < BOUND_SECONDS, f"{elapsed:.1f} s"
