"""A short, bounded run of benchmarks/fuzz_edge.py: schemathesis finds no 5xx at the HTTP edge."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from support import REPO


def test_schemathesis_finds_no_server_error(tmp_path: Path) -> None:
    """Every documented operation, fuzzed from the OpenAPI document: only 2xx/4xx, nothing unhandled."""
    spec = importlib.util.spec_from_file_location("fuzz_edge", REPO / "benchmarks" / "fuzz_edge.py")
    assert spec is not None
    assert spec.loader is not None
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    figures = fuzz.run(max_examples=8, seed=3, workdir=tmp_path)
    assert figures["requests"] > 100, figures
    assert figures["server_errors"] == 0, figures
    assert figures["unhandled_errors"] == 0, figures
    assert figures["by_status"].get("2xx", 0) > 0, figures  # the fuzzer got past validation too
