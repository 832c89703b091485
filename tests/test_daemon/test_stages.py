"""The pure parts of the pipeline: transitions, grouping, matchers, priority and config units."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.matchers import parse_matcher
from daemon.models import Alert, AlertState, AlertStatus
from daemon.pipeline import _paging_keys
from daemon.settings import CorrelationSettings, GroupRoute
from daemon.stages.correlate import Grouper, Grouping, Paging
from daemon.stages.dedupe import Transition, classify, next_state
from daemon.timeparse import parse_rfc3339
from daemon.units import parse_duration, parse_size

LABELS = {"alertname": "DiskFull", "cluster": "prod", "instance": "db-1", "severity": "critical"}


def alert(
    status: str = "firing",
    starts: float | None = 100.0,
    at: float = 1000.0,
    annotations: dict[str, str] | None = None,
) -> Alert:
    """An alert of the one fingerprint these tests follow."""
    return Alert(
        "fp",
        "alertmanager",
        AlertStatus(status),
        LABELS,
        annotations or {},
        starts,
        None if status == "firing" else starts and starts + 10,
        "",
        at,
    )


def _state(*history: Alert, incident: str | None = "inc_1", suppressed: str | None = None) -> AlertState:
    state = None
    for earlier in history:
        state = next_state(state, earlier, classify(state, earlier))
    assert state is not None
    state.incident_id, state.suppressed = incident, suppressed
    return state


@pytest.mark.parametrize(
    ("states", "batch", "loads"),
    [
        ({}, [alert()], True),  # never seen: may open or join
        ({"fp": _state(alert())}, [alert(), alert(annotations={"summary": "new"})], False),  # repeats
        ({"fp": _state(alert(), alert("resolved"))}, [alert(starts=200.0)], True),  # may re-fire
        ({"fp": _state(alert())}, [alert("resolved"), alert(starts=200.0)], True),  # resolves, re-fires
        ({"fp": _state(alert(), suppressed="silence s1")}, [alert()], True),  # may be released
        ({"fp": _state(alert(), incident=None)}, [alert()], True),  # in no incident yet
    ],
)
async def test_correlation_keys_are_loaded_only_for_alerts_that_may_open_or_join(
    states: dict[str, AlertState], batch: list[Alert], loads: bool
) -> None:
    """A storm is mostly repeats: they need their group's pointer, not topology's or similarity's."""
    made: list[int] = []

    def paging() -> Paging:
        made.append(1)
        return Paging(sim_keys=("sim:a",), storm_scope="prod")

    grouping = Grouping("g", {}, False, paging=paging)
    keys = list(await _paging_keys(batch, {"fp": grouping})(states))
    assert keys == (["g", "sim:a", "storm:prod"] if loads else [])
    # A repeat never computes the part of its grouping it does not need.
    assert made == ([1] if loads else [])


@pytest.mark.parametrize(
    ("history", "incoming", "expected"),
    [
        ([], alert(), Transition.FIRST),
        ([], alert("resolved"), Transition.RESOLVE_UNKNOWN),
        ([alert()], alert(), Transition.REPEAT),
        ([alert()], alert(annotations={"summary": "new"}), Transition.UPDATE),
        ([alert()], alert("resolved"), Transition.RESOLVE),
        ([alert(), alert("resolved")], alert("resolved"), Transition.RESOLVE_REPEAT),
        ([alert(), alert("resolved")], alert(starts=200.0), Transition.REFIRE),
        ([alert(), alert("resolved")], alert(), Transition.STALE),  # late retry of the old firing
        ([alert(starts=200.0)], alert(starts=100.0), Transition.STALE),  # older occurrence
        ([alert(), alert("resolved")], alert(starts=None), Transition.REFIRE),
    ],
)
def test_transitions(history: list[Alert], incoming: Alert, expected: Transition) -> None:
    """Each notification is classified from what was known before it."""
    state = None
    for earlier in history:
        state = next_state(state, earlier, classify(state, earlier))
    assert classify(state, incoming) is expected


def test_counts_follow_transitions() -> None:
    """receive_count counts every notification; fire_count counts occurrences."""
    state = None
    for a in (alert(), alert(), alert("resolved"), alert(starts=500.0), alert(starts=100.0)):
        state = next_state(state, a, classify(state, a))
    assert state is not None
    assert (state.receive_count, state.fire_count, state.starts_at) == (4, 2, 500.0)


def test_grouping_routes_first_match_and_all_labels() -> None:
    """The first matching route picks group_by; '...' groups by every label."""
    settings = CorrelationSettings(
        group_by=["alertname"],
        routes=[
            GroupRoute(matchers=['severity=~"crit.*"', 'cluster!="dev"'], group_by=["cluster"]),
            GroupRoute(matchers=['cluster="prod"'], group_by=["..."]),
        ],
    )
    g = Grouper(settings)
    assert g.group_of(LABELS).key == 'route0:{cluster="prod"}'
    warn = {**LABELS, "severity": "warning"}
    assert g.group_of(warn).all_labels
    assert g.group_of(warn).key.startswith('route1:{alertname="DiskFull",cluster="prod"')
    dev = {"alertname": "X", "cluster": "dev"}
    assert g.group_of(dev).key == 'default:{alertname="X"}'
    assert g.group_of({"cluster": "dev"}).labels == {"alertname": ""}  # missing label: empty


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["alertname", "cluster", "severity", "team"]),
            st.sampled_from(["", "a", "prod", "crit", "dev"]),
        ),
        max_size=12,
    )
)
def test_a_remembered_group_key_is_the_one_computed_afresh(label_sets: list[dict[str, str]]) -> None:
    """The group keys a grouper remembers (by route and values) never differ from a new
    grouper's, whatever came before: same values under another route, a missing label."""
    config = CorrelationSettings(
        group_by=["alertname", "cluster"],
        routes=[
            GroupRoute(matchers=['severity="crit"'], group_by=["cluster", "alertname"]),
            GroupRoute(matchers=['team="a"'], group_by=["alertname", "cluster"]),
            GroupRoute(matchers=['team="dev"'], group_by=["..."]),
        ],
    )
    remembering = Grouper(config)
    for labels in label_sets:
        fresh = Grouper(config).group_of(labels)
        got = remembering.group_of(labels)
        assert (got.key, got.labels, got.route, got.all_labels) == (
            fresh.key,
            fresh.labels,
            fresh.route,
            fresh.all_labels,
        )


@pytest.mark.parametrize(
    ("text", "labels", "hit"),
    [
        ('team="a"', {"team": "a"}, True),
        ("team=a", {"team": "b"}, False),
        ('team!="a"', {}, True),
        ('team=~"a|b"', {"team": "b"}, True),
        ('team=~"a"', {"team": "ab"}, False),  # anchored, as in Alertmanager
        ('team!~"a.*"', {"team": "xyz"}, True),
        ('team=""', {}, True),  # a missing label equals the empty string
        ('msg="say \\"hi\\""', {"msg": 'say "hi"'}, True),
    ],
)
def test_matchers(text: str, labels: dict[str, str], hit: bool) -> None:
    """Alertmanager matcher semantics."""
    assert parse_matcher(text).matches(labels) is hit


@pytest.mark.parametrize("text", ["team", 'team=~"("', "9x=1", 'a="b" c'])
def test_bad_matchers_say_what_was_expected(text: str) -> None:
    """A bad matcher is a ValueError naming the expected form or the regex problem."""
    with pytest.raises(ValueError, match="matcher"):
        parse_matcher(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("5m", 300), ("1h30m", 5400), ("500ms", 0.5), ("2d", 172800), (7, 7)],
)
def test_durations(text: object, seconds: float) -> None:
    """Prometheus-style durations."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5 minutes", "m5", "-1s", True, -3, None, "1h30"])
def test_bad_durations(bad: object) -> None:
    """Anything else is refused with the expected form."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_sizes() -> None:
    """Byte sizes with binary and decimal units; zero and junk refused."""
    assert parse_size("1MiB") == 1048576
    assert parse_size("2 KB") == 2000
    assert parse_size(10) == 10
    for bad in ("0", "1TB", "lots", 0, 1.5):
        with pytest.raises(ValueError, match="size"):
            parse_size(bad)


def test_timestamps() -> None:
    """RFC 3339 with nanoseconds and offsets; Go's zero time is 'none'; junk is refused."""
    assert parse_rfc3339("0001-01-01T00:00:00Z") is None
    assert parse_rfc3339("1970-01-01T00:00:01Z") == 1.0
    assert parse_rfc3339("1970-01-01T01:00:01+01:00") == 1.0
    assert parse_rfc3339("1970-01-01T00:00:01") == 1.0  # no offset: UTC
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_rfc3339("tuesday")
