"""Shared fixtures. Real photos come from CVAEGAN_TEST_DATA (default ../shared/data); tests that
need them skip with a reason when it is absent, unless CVAEGAN_REQUIRE_TEST_DATA=1 (CI) makes
that a failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _test_data_root() -> Path:
    return Path(os.environ.get("CVAEGAN_TEST_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def test_data() -> Path:
    root = _test_data_root()
    if not root.is_dir():
        msg = f"real test data not found at {root} (set CVAEGAN_TEST_DATA)"
        if os.environ.get("CVAEGAN_REQUIRE_TEST_DATA") == "1":
            pytest.fail(msg + "; CVAEGAN_REQUIRE_TEST_DATA=1 makes this a failure")
        pytest.skip(msg)
    return root
