"""The shipped Grafana dashboard and Prometheus rules: valid, and every metric they use exists."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from support import REPO, DaemonProcess, free_port

EXAMPLES = REPO / "config" / "examples"
DASHBOARD = EXAMPLES / "grafana-dashboard.json"
RULES = EXAMPLES / "triaged-alerts.rules.yml"
RULE_TESTS = REPO / "tests" / "test_reports" / "fixtures" / "triaged-alerts.test.yml"
PROMTOOL = shutil.which("promtool")
METRIC = re.compile(r"\btriaged_[a-z0-9_]+\b")
# What the exposition adds to a family's name, per type (prometheus_client's conventions).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "untyped": ("",),
}
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool (Debian's prometheus) is installed by `make test`"
)


def exprs_of_dashboard() -> list[str]:
    """Every PromQL expression in the dashboard: panel targets and templating queries."""
    board = json.loads(DASHBOARD.read_text())
    found = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    found += [v["definition"] for v in board["templating"]["list"] if v.get("definition")]
    return found


def exprs_of_rules() -> list[str]:
    """Every rule expression."""
    doc = yaml.safe_load(RULES.read_text())
    return [rule["expr"] for group in doc["groups"] for rule in group["rules"]]


@needs_promtool
def test_rules_pass_promtool_check() -> None:
    """`promtool check rules` accepts the file and counts every rule."""
    result = subprocess.run(
        [PROMTOOL or "", "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs_of_rules())} rules found" in result.stdout


@needs_promtool
def test_rules_fire_on_the_series_they_should() -> None:
    """`promtool test rules`: backlog, dead letters, circuit, down, silence fire; healthy replicas do not."""
    result = subprocess.run(
        [PROMTOOL or "", "test", "rules", str(RULE_TESTS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_is_a_grafana_dashboard() -> None:
    """Panels have unique ids, a datasource variable and at least one query each (rows aside)."""
    board = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    assert {v["name"] for v in board["templating"]["list"]} >= {"datasource", "instance"}
    for p in board["panels"]:
        if p["type"] != "row":
            assert p["targets"], p["title"]
            assert all(t["datasource"]["uid"] == "${datasource}" for t in p["targets"])


def exposed_names(text: str) -> set[str]:
    """Sample names a scrape can contain, from the `# TYPE` line of every family (even empty ones)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split()
            base = family.removesuffix("_total") if kind == "counter" else family
            names.update(base + suffix for suffix in SUFFIXES[kind])
    return names


def test_every_metric_used_exists(daemon_factory: Callable[..., DaemonProcess]) -> None:
    """Each triaged_* name in the dashboard and the rules is exposed by a real daemon with a tracker."""
    d = daemon_factory(
        {"connectors": {"hooks": {"kind": "webhook", "endpoint": f"http://127.0.0.1:{free_port()}/h"}}}
    )
    with urllib.request.urlopen(d.url + "/metrics", timeout=10) as resp:
        exposed = exposed_names(resp.read().decode())
    used: dict[str, set[str]] = {"dashboard": set(), "rules": set()}
    for where, exprs in (("dashboard", exprs_of_dashboard()), ("rules", exprs_of_rules())):
        for expr in exprs:
            used[where].update(METRIC.findall(expr))
    assert len(used["dashboard"]) > 20
    assert len(used["rules"]) > 5
    missing = {where: sorted(names - exposed) for where, names in used.items() if names - exposed}
    assert missing == {}


def test_dashboard_and_rules_are_not_triaged_configs() -> None:
    """They are .json/.yml, so the config-example test (which loads every *.yaml) leaves them alone."""
    names: list[Any] = sorted(p.name for p in EXAMPLES.glob("*.yaml"))
    assert DASHBOARD.name not in names
    assert RULES.name not in names
