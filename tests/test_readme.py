"""The newcomer's path: the README's own curl example, run against a real daemon, gives an incident."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable

from support import REPO, DaemonProcess

README = (REPO / "README.md").read_text()


def _first_block_with(marker: str) -> str:
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        if marker in block:
            return str(block)
    raise AssertionError(f"no sh block with {marker!r} in README.md")


def test_readme_names_the_two_commands_near_the_top() -> None:
    """The set-up commands are in the first screenful, and .ci/run runs exactly the test one."""
    top = README[:1500]
    assert "make run" in top
    assert "make test" in top
    ci = (REPO / ".ci" / "run").read_text()
    assert [ln for ln in ci.splitlines() if ln and not ln.startswith(("#", "set ", "cd "))] == ["make test"]


def test_readme_curl_example_gives_an_incident(daemon_factory: Callable[..., DaemonProcess]) -> None:
    """Run the README's curl commands, as written, against a real daemon (only the port differs)."""
    # The newcomer's daemon: the bundled model, default grouping.
    d = daemon_factory(
        {"correlation": {"group_by": ["alertname", "cluster"]}, "triage": {"model": "default"}}
    )
    block = _first_block_with("curl")
    script = block.replace("127.0.0.1:9795", f"127.0.0.1:{d.port}")
    commands = [c for c in re.split(r"\n(?=curl )", script) if c.startswith("curl")]
    assert len(commands) == 2
    posted = subprocess.run(
        ["bash", "-c", commands[0]], capture_output=True, text=True, timeout=30, check=True
    )
    assert json.loads(posted.stdout) == {"accepted": 1}
    listed: dict[str, list[dict[str, object]]] = {"incidents": []}
    for _ in range(100):  # the pipeline runs asynchronously after the 202
        out = subprocess.run(
            ["bash", "-c", commands[1]], capture_output=True, text=True, timeout=30, check=True
        )
        listed = json.loads(out.stdout)
        if listed["incidents"]:
            break
        subprocess.run(["sleep", "0.05"], check=True)
    [incident] = listed["incidents"]
    assert incident["title"] == "HighErrorRate (cluster=prod-eu)"
    assert incident["priority"] == "P1"
    assert incident["status"] == "open"
