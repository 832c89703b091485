"""Registers the ``slow`` marker: the long fault tests still run in CI (deselect with -m 'not slow')."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker (the suite runs with --strict-markers)."""
    config.addinivalue_line("markers", "slow: a long fault-injection test (many iterations)")
