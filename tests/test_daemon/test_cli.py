"""The command line as a user runs it: a real `triaged` process, exit codes and messages."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support import FIXTURES, REPO, triaged_executable


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed `triaged` console script."""
    return subprocess.run(
        [triaged_executable(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


def test_check_config_ok_and_error(tmp_path: Path) -> None:
    """check-config: exit 0 with a summary for a good file; exit 2 and every problem for a bad one."""
    good = run("check-config", str(REPO / "config" / "triaged.yaml"))
    assert good.returncode == 0, good.stderr
    assert "OK" in good.stdout
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text("listen: 1\nstore: {synchronous: maybe}\n")
    bad = run("check-config", str(bad_file))
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert f"{bad_file}: listen:" in bad.stderr
    assert f"{bad_file}: store.synchronous:" in bad.stderr


def test_serve_with_bad_config_fails_before_binding(tmp_path: Path) -> None:
    """serve refuses a bad config with the problems listed, exit 2, no traceback."""
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text("correlation: {group_window: forever}\n")
    result = run("serve", "--config", str(bad_file))
    assert result.returncode == 2
    assert "correlation.group_window" in result.stderr
    assert "Traceback" not in result.stderr
    bad_listen = run("serve", "--listen", "localhost")
    assert bad_listen.returncode == 2
    assert "--listen: expected HOST:PORT" in bad_listen.stderr


def test_replay_prints_the_incidents(tmp_path: Path) -> None:
    """replay runs saved bodies through the real pipeline and prints what incidents result."""
    names = [
        "firing_grouped",
        "firing_grouped_update",
        "firing_grouped_partially_resolved",
        "resolved_grouped",
        "truncated",
    ]
    files = [str(FIXTURES / f"{n}.json") for n in names]
    table = run("replay", *files, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "2 incident(s)" in table.stdout
    assert "resolved     HighErrorRate (cluster=prod-eu)" in table.stdout
    assert "3 truncated by sender" in table.stdout
    as_json = run("replay", "--format", "json", *files, cwd=tmp_path)
    incidents = json.loads(as_json.stdout)
    assert [(i["status"], i["alert_count"]) for i in incidents] == [("resolved", 3), ("open", 2)]
    assert not list(tmp_path.iterdir())  # replay leaves no state behind


def test_replay_reports_bad_files_and_keeps_going(tmp_path: Path) -> None:
    """A bad file is one clear line on stderr and exit 1; the good files are still replayed."""
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    result = run("replay", str(broken), str(tmp_path / "missing.json"), str(FIXTURES / "firing_grouped.json"))
    assert result.returncode == 1
    assert f"{broken}: not valid JSON" in result.stderr
    assert "missing.json: cannot read" in result.stderr
    assert "Traceback" not in result.stderr
    assert "1 incident(s)" in result.stdout


def test_check_config_runs_connector_healthchecks(tmp_path: Path) -> None:
    """check-config checks each tracker: an unreachable one fails clearly (exit 1), a bad key exits 2."""
    from support import free_port

    port = free_port()  # nothing listens there
    cfg = tmp_path / "trackers.yaml"
    cfg.write_text(
        "connectors:\n"
        f"  hooks: {{kind: webhook, endpoint: 'http://127.0.0.1:{port}/hook', timeout: 2,"
        " bearer_token: very-secret-token}\n"
    )
    result = run("check-config", str(cfg))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "connector hooks (webhook): ConnectorUnavailable: webhook check: cannot connect" in result.stdout
    assert "very-secret-token" not in result.stdout + result.stderr

    cfg.write_text("connectors:\n  hooks: {kind: webhook, endpoint: 'not a url'}\n  other: {kind: nagios}\n")
    bad = run("check-config", str(cfg))
    assert bad.returncode == 2
    assert f"{cfg}: connectors.hooks: endpoint: Input should be a valid URL" in bad.stderr
    assert "unknown connector kind 'nagios'" in bad.stderr


def test_evaluate_cross_source_json() -> None:
    """`triaged evaluate --holdout-source ... --json` prints one JSON object with the model's
    macro-F1 next to the baselines, on a source the model never trained on."""
    data = sorted(str(p) for p in (REPO / "data" / "alert-rules").glob("*.jsonl"))
    result = run("evaluate", "--data", *data, "--holdout-source", "kube-prometheus", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] > 100
    assert set(report["per_class"]) == {"critical", "warning", "info"}
    assert report["macro_f1"] > report["baselines"]["majority"]["macro_f1"]
    assert report["macro_f1"] > report["baselines"]["keyword"]["macro_f1"]


def test_explain_shows_priority_and_reasons(tmp_path: Path) -> None:
    """`triaged explain` on a captured webhook prints each alert's priority and the reasons."""
    result = run("explain", str(FIXTURES / "firing_grouped.json"), "--json")
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    assert [i["alertname"] for i in items] == ["HighErrorRate", "HighErrorRate"]
    for item in items:
        assert item["priority"] in ("P1", "P2", "P3", "P4", "P5")
        assert item["reasons"][0].startswith("model ")
        assert any("impact" in r for r in item["reasons"])
        assert set(item["probabilities"]) == {"critical", "warning", "info"}
    one = tmp_path / "alert.json"
    one.write_text(json.dumps(json.loads((FIXTURES / "truncated.json").read_text())["alerts"][0]))
    text = run("explain", str(one))
    assert text.returncode == 0, text.stderr
    assert "BatchJobFailed" in text.stdout
    bad = run("explain", str(tmp_path / "missing.json"))
    assert bad.returncode == 1
    assert "cannot read" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_commands_that_call_a_daemon_refuse_a_bad_url_or_timeout_with_a_usage_error() -> None:
    """Not a URL, not http(s), a broken IPv6 host, a port out of range, a timeout that is not
    a positive number: exit 2 naming the argument, never a traceback."""
    cases = [
        (["health", "--url", "notaurl"], "argument --url: expected http://HOST:PORT"),
        (["health", "--url", "http://[::1"], "argument --url: 'http://[::1' is not a URL"),
        (["health", "--url", "http://h:99999"], "is not a URL (Port out of range"),
        (["health", "--timeout", "-1"], "argument --timeout: expected a positive number of seconds"),
        (["health", "--timeout", "nan"], "expected a positive number of seconds, got 'nan'"),
        (["incidents", "ls", "--url", "ftp://x"], "argument --url: expected http://HOST:PORT"),
        (["silences", "ls", "--url", "http://[::1"], "is not a URL (Invalid IPv6 URL)"),
    ]
    for args, expected in cases:
        result = run(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert expected in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
