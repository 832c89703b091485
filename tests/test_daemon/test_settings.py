"""Configuration: the shipped files load, and every mistake is named with file, key and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog
import yaml
from support import REPO

from daemon.config_loader import load_settings
from daemon.errors import ConfigError
from daemon.settings import Settings

EXAMPLES = sorted((REPO / "config" / "examples").glob("*.yaml"))


def test_shipped_defaults_file_equals_the_built_in_defaults() -> None:
    """config/triaged.yaml documents exactly the defaults `serve` uses without a file."""
    assert load_settings(REPO / "config" / "triaged.yaml") == Settings()


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_loads(path: Path) -> None:
    """Every shipped example is a valid config (they cannot go stale)."""
    load_settings(path, read_secrets=False)


def test_examples_exist() -> None:
    """There are examples to load (the parametrized test above is not vacuous)."""
    assert len(EXAMPLES) >= 2


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


def test_all_errors_at_once_with_file_key_and_expectation(tmp_path: Path) -> None:
    """Several mistakes are reported together, each naming file, dotted key and what was expected."""
    path = _write(
        tmp_path,
        """
listen: nowhere
store:
  kind: postgres
intake:
  max_body_bytes: huge
correlation:
  group_window: soon
  routes:
    - matchers: ['team~"x"']
      group_by: [alertname]
triage:
  tiers: {payments: 0}
pipline: {}
""",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    problems = info.value.problems
    text = "\n".join(problems)
    assert all(p.startswith(f"{path}: ") for p in problems), text
    assert "listen: expected HOST:PORT" in text
    assert "store.kind: expected one of 'sqlite', 'redis' (got 'postgres')" in text
    assert "intake.max_body_bytes: expected a positive size" in text
    assert "correlation.group_window: expected a duration" in text
    assert "correlation.routes.0.matchers: invalid matcher" in text
    assert "triage.tiers: tiers must be 1, 2 or 3" in text
    assert "pipline: unknown key" in text
    assert len(problems) == 7


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    """Broken YAML names the file and the line."""
    path = _write(tmp_path, "listen: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: line 2"):
        load_settings(path)


def test_a_key_written_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    """PyYAML keeps the later of two equal keys silently: two ``store:`` sections ran on
    the second while the person edited the first, and check-config said OK."""
    path = _write(tmp_path, "store:\n  kind: sqlite\nlisten: 127.0.0.1:8080\nstore:\n  kind: redis\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value.problems[0]).startswith(
        f"{path}: line 4, column 1: invalid YAML: duplicate key 'store' (first at line 1)"
    )
    nested = _write(
        tmp_path, "correlation:\n  group_window: 60\n  storm:\n    enabled: true\n  group_window: 5\n"
    )
    with pytest.raises(ConfigError, match=r"line 5, column 3: invalid YAML: duplicate key 'group_window'"):
        load_settings(nested)


def test_merge_keys_still_override_as_yaml_intends(tmp_path: Path) -> None:
    """Only keys written out twice count: ``<<:`` then a key of its own is an override."""
    path = _write(
        tmp_path, "correlation:\n  <<: {group_window: 60, resolve_delay: 30}\n  group_window: 120\n"
    )
    settings = load_settings(path)
    assert (settings.correlation.group_window, settings.correlation.resolve_delay) == (120, 30)


def test_missing_file_is_clear(tmp_path: Path) -> None:
    """A config path that does not exist is named."""
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "nope.yaml")


def test_environment_overrides_and_is_named_in_errors(tmp_path: Path) -> None:
    """TRIAGED_SECTION__KEY overrides the file; a bad value names the variable."""
    path = _write(tmp_path, "store: {path: /tmp/a.db}\n")
    env = {
        "TRIAGED_STORE__PATH": "/tmp/b.db",
        "TRIAGED_INTAKE__MAX_BACKLOG": "5",
        "TRIAGED_LISTEN": "0.0.0.0:1234",
        "OTHER": "x",
    }
    s = load_settings(path, env)
    assert str(s.store.path) == "/tmp/b.db"
    assert s.intake.max_backlog == 5
    assert s.listen == "0.0.0.0:1234"
    with pytest.raises(ConfigError, match=r"^TRIAGED_INTAKE__MAX_BACKLOG: intake\.max_backlog"):
        load_settings(path, {"TRIAGED_INTAKE__MAX_BACKLOG": "-1"})


def test_secrets_from_env_and_file_are_never_shown(tmp_path: Path) -> None:
    """Tokens load from env or file, and neither repr, errors nor logs reveal them."""
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-from-file\n")
    path = _write(tmp_path, yaml.safe_dump({"sources": {"alertmanager": {"token_file": str(token_file)}}}))
    s = load_settings(path)
    token = s.sources.alertmanager.token
    assert token is not None
    assert token.get_secret_value() == "s3cret-from-file"
    assert "s3cret" not in repr(s)
    assert "s3cret" not in str(s)
    with structlog.testing.capture_logs() as logs:
        structlog.get_logger().info("settings", settings=s)
    assert "s3cret" not in str(logs)

    env = {"TRIAGED_SOURCES__ALERTMANAGER__TOKEN": "123456"}
    s2 = load_settings(None, env)
    assert s2.sources.alertmanager.token is not None
    assert s2.sources.alertmanager.token.get_secret_value() == "123456"  # stays a string

    both = _write(
        tmp_path,
        yaml.safe_dump(
            {"sources": {"alertmanager": {"token": "a-secret-value", "token_file": str(token_file)}}}
        ),
    )
    with pytest.raises(ConfigError) as info:
        load_settings(both)
    assert "token or token_file" in str(info.value)
    assert "a-secret-value" not in str(info.value)


def test_unreadable_secret_file(tmp_path: Path) -> None:
    """A token_file that cannot be read is named with its key."""
    path = _write(
        tmp_path,
        yaml.safe_dump({"sources": {"alertmanager": {"token_file": str(tmp_path / "missing")}}}),
    )
    with pytest.raises(ConfigError, match=r"sources\.alertmanager\.token_file: cannot read"):
        load_settings(path)
