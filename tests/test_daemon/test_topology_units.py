"""Pure parts of correlation: entity naming, the bounded dependency walk, weekly windows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.correlation_settings import TopologySettings, WeeklyWindow
from daemon.errors import ConfigError
from daemon.silences import in_window
from daemon.stages.topology import Topology


def test_entities_from_labels() -> None:
    topo = Topology(TopologySettings())
    labels = {"instance": "10.0.0.7:9100", "pod": "cart-1", "namespace": "shop", "node": "n3"}
    assert topo.entities(labels) == {"host:10.0.0.7", "pod:shop/cart-1", "host:n3"}
    assert topo.entities({"instance": "[::1]:9100"}) == {"host:::1"}
    assert topo.entities({"instance": "db.example:5432"}) == {"host:db.example"}
    assert topo.entities({"alertname": "X"}) == frozenset()


def test_walk_is_bounded_and_survives_cycles() -> None:
    deps = {f"service:s{i}": [f"service:s{i + 1}"] for i in range(50)}
    deps["service:s50"] = ["service:s0"]  # a cycle
    topo = Topology(TopologySettings(depends_on=deps, max_depth=4))
    assert topo.ancestors("service:s0") == {"service:s1", "service:s2", "service:s3", "service:s4"}
    wide = Topology(
        TopologySettings(depends_on={"service:a": [f"host:h{i}" for i in range(100)]}, max_entities=10)
    )
    assert len(wide.ancestors("service:a")) == 10


def test_likely_cause_is_what_the_others_depend_on() -> None:
    deps = {"pod:shop/a": ["host:n3"], "pod:shop/b": ["host:n3"], "service:cart": ["pod:shop/a"]}
    topo = Topology(TopologySettings(depends_on=deps))
    assert topo.likely_cause(["pod:shop/a", "service:cart", "host:n3", "pod:shop/b"]) == "host:n3"


def test_scope_keeps_clusters_apart() -> None:
    topo = Topology(TopologySettings())
    a = topo.footprint({"node": "n3", "cluster": "eu"})
    b = topo.footprint({"node": "n3", "cluster": "us"})
    assert not set(a.register_keys()) & set(b.lookup_keys(["host"]))


def test_topology_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "topo.yaml"
    bad.write_text("depends_on:\n  service:a: [not-an-entity]\n")
    with pytest.raises(ConfigError, match=r"topo\.yaml: depends_on\.service:a"):
        Topology(TopologySettings(file=bad))
    twice = tmp_path / "twice.yaml"
    twice.write_text("depends_on:\n  service:a: [service:db]\n  service:a: [host:n1]\n")
    with pytest.raises(ConfigError, match=r"twice\.yaml: line 3, column 3: invalid YAML: duplicate key"):
        Topology(TopologySettings(file=twice))
    good = tmp_path / "ok.yaml"
    good.write_text("depends_on:\n  service:a: [service:db]\n")
    assert Topology(TopologySettings(file=good)).ancestors("service:a") == {"service:db"}


def _at(text: str, tz: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


def test_weekly_windows_wrap_midnight_and_follow_the_zone() -> None:
    night = WeeklyWindow(days=["sat"], start="22:00", end="02:00", timezone="Europe/Paris")
    assert in_window(night, _at("2026-11-28T23:30", "Europe/Paris"))  # Saturday night
    assert in_window(night, _at("2026-11-29T01:30", "Europe/Paris"))  # into Sunday
    assert not in_window(night, _at("2026-11-29T02:30", "Europe/Paris"))
    assert not in_window(night, _at("2026-11-27T23:30", "Europe/Paris"))  # a Friday
    assert not in_window(night, _at("2026-11-28T20:30", "UTC"))  # 21:30 in Paris: not yet
    with pytest.raises(ValueError, match="HH:MM"):
        WeeklyWindow(start="25:00", end="01:00")
    with pytest.raises(ValueError, match="time zone"):
        WeeklyWindow(start="01:00", end="02:00", timezone="Mars/Olympus")


def test_only_an_entity_something_depends_on_looks_for_its_dependents() -> None:
    """An alert claims the "what depends on me" pointers of its upstream only, so an entity
    that no dependency names has none to find: without a map, an alert looks up its own
    two keys instead of eighteen."""
    labels = {"instance": "web-7:9100", "service": "web", "cluster": "eu"}
    bare = Topology(TopologySettings()).footprint(labels)
    assert bare.lookup_keys(["host"]) == ["topo:own:host:web-7@cluster=eu", "topo:own:service:web@cluster=eu"]
    mapped = Topology(TopologySettings(depends_on={"pod:shop/a": ["host:web-7"]}))
    keys = mapped.footprint(labels).lookup_keys(["host"])
    assert [k for k in keys if k.startswith("topo:up:")] == [
        "topo:up:host:web-7@cluster=eu",
        *[f"topo:up:host:web-7@cluster=eu#{i}" for i in range(1, 8)],
    ]
    # A dependent's alert claims exactly the pointer the depended-on entity looks up.
    pod = mapped.footprint({"pod": "a", "namespace": "shop", "cluster": "eu"})
    assert "topo:up:host:web-7@cluster=eu" in pod.register_keys()
