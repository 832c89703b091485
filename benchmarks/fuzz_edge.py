"""Fuzz the HTTP edge: schemathesis against a real ``triaged serve``, driven by its own OpenAPI document.

One command: ``.venv/bin/python benchmarks/fuzz_edge.py [--max-examples N]``. It starts a
daemon on a free loopback port with a throwaway SQLite store (sources left open: the
fuzzer must reach the parsers, not stop at 401), runs ``st run`` with the
``not_a_server_error`` check on every operation, and prints: requests sent, answers by
status class, 5xx answers, and failed checks. Exit status 0 only when no 5xx was seen.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import yaml


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"triaged exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("triaged did not become ready")


def run(max_examples: int, seed: int, workdir: Path) -> dict[str, object]:
    """Start a daemon, fuzz it, stop it; the figures as a mapping."""
    bindir = Path(sys.executable).parent
    triaged = shutil.which("triaged", path=str(bindir)) or "triaged"
    st = shutil.which("st", path=str(bindir)) or "st"
    port = _free_port()
    config = workdir / "triaged.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "store": {"path": str(workdir / "fuzz.db"), "synchronous": "normal"},
                "triage": {"model": "none"},
                "logging": {"level": "error", "format": "json"},
            }
        )
    )
    url = f"http://127.0.0.1:{port}"
    with (workdir / "daemon.log").open("wb") as log:
        proc = subprocess.Popen(
            [triaged, "serve", "--config", str(config), "--listen", f"127.0.0.1:{port}"],
            stdout=log,
            stderr=log,
        )
    try:
        _wait_ready(url, proc)
        har, junit = workdir / "run.har", workdir / "junit.xml"
        started = time.monotonic()
        st_run = subprocess.run(
            [
                st,
                "run",
                f"{url}/api/v1/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                str(max_examples),
                "--seed",
                str(seed),
                "--request-timeout",
                "10",
                "--report",
                "har,junit",
                "--report-har-path",
                str(har),
                "--report-junit-path",
                str(junit),
            ],
            capture_output=True,
            cwd=workdir,  # schemathesis keeps its example database in ./.schemathesis
            text=True,
            check=False,
        )
        elapsed = time.monotonic() - started
    finally:
        proc.terminate()
        proc.wait(30)
    log_text = (workdir / "daemon.log").read_text(errors="replace")
    statuses: Counter[str] = Counter()
    server_errors = 0
    if har.exists():
        for entry in json.loads(har.read_text())["log"]["entries"]:
            status = int(entry["response"]["status"])
            statuses[f"{status // 100}xx"] += 1
            server_errors += status >= 500
    failures = 0
    if junit.exists():
        root = ET.parse(junit).getroot()
        failures = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in root.iter("testsuite"))
    return {
        "requests": sum(statuses.values()),
        "by_status": dict(sorted(statuses.items())),
        "server_errors": server_errors,
        "failed_checks": failures,
        "seconds": round(elapsed, 1),
        "schemathesis_exit": st_run.returncode,
        "schemathesis_tail": st_run.stdout.strip().splitlines()[-3:],
        # Our handlers' unexpected exceptions (error_middleware logs them, answers 500).
        "unhandled_errors": log_text.count('"unhandled_error"'),
        # aiohttp's HTTP parser logs a traceback for a header it refuses (answered 400 by aiohttp).
        "http_parser_refusals": log_text.count("BadHttpMessage"),
    }


def main() -> int:
    """Parse arguments, fuzz, print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-examples", type=int, default=200, help="per API operation")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="triaged-fuzz-") as tmp:
        figures = run(args.max_examples, args.seed, Path(tmp))
    print(json.dumps(figures, indent=2))
    clean = figures["server_errors"] == 0 and figures["unhandled_errors"] == 0
    return 0 if clean and figures["requests"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
