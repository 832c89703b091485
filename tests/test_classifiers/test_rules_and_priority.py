"""Priority from impact x urgency, and the declarative rules that adjust it, with reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from classifiers.priority import Blast, ImpactPolicy, impact, priority, shift
from classifiers.rules import Context, RuleError, load_rules
from classifiers.score import score

REPO = Path(__file__).resolve().parents[2]
NIGHT = datetime(2026, 11, 28, 23, 30, tzinfo=UTC)  # a Saturday


@dataclass(frozen=True)
class Pred:
    """A prediction as the model returns it."""

    urgency: str
    probabilities: dict[str, float] = field(default_factory=dict)
    top_features: tuple[tuple[str, float], ...] = ()
    model_version: str = "m1"


def test_matrix_corners_and_shift() -> None:
    """The ITIL matrix: high x high is P1, low x low is P5; shifts clamp."""
    assert priority(1, "critical") == "P1"
    assert priority(2, "warning") == "P3"
    assert priority(3, "info") == "P5"
    assert (shift("P1", -2), shift("P4", 3), shift("P3", -1)) == ("P1", "P5", "P2")


def test_impact_from_environment_tier_and_blast() -> None:
    """Production, tier 1 and a wide blast radius raise impact; staging lowers it."""
    policy = ImpactPolicy(tiers={"payments": 1, "wiki": 3})
    level, reasons = impact({"env": "production", "service": "payments"}, Blast(alerts=20), policy)
    assert level == 1
    assert len(reasons) == 3
    assert impact({"env": "staging"}, Blast(), policy)[0] == 3
    assert impact({"service": "wiki"}, Blast(), policy)[0] == 3
    assert impact({}, Blast(), policy) == (2, [])


def test_shipped_rules_file_loads_and_applies() -> None:
    """config/rules.yaml is valid; its Watchdog rule sets P5 and says so."""
    rules = load_rules(REPO / "config" / "rules.yaml")
    p, reasons = rules.apply("P1", Context({"alertname": "Watchdog"}, {}, "alertmanager", NIGHT))
    assert p == "P5"
    assert "Watchdog" in reasons[0]
    assert "P1 -> P5" in reasons[0]


def _rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def test_every_condition_and_action(tmp_path: Path) -> None:
    """Equals, regex, in, absent, annotations, source, hours across midnight, days; each action."""
    rules = load_rules(
        _rules(
            tmp_path,
            """
rules:
  - {name: a, match: {labels: {team: db}}, action: raise, steps: 2, reason: db}
  - {name: b, match: {labels_regex: {alertname: ".*Down"}}, action: floor, priority: P2, reason: down}
  - {name: c, match: {labels_in: {env: [qa, dev]}}, action: cap, priority: P4, reason: qa}
  - {name: d, match: {absent: [severity]}, action: lower, reason: unlabelled}
  - {name: e, match: {annotations_regex: {summary: "(?i)LOSS"}}, action: set, priority: P1, reason: loss}
  - {name: f, match: {source: grafana}, action: set, priority: P5, reason: grafana}
  - {name: g, match: {hours: "22:00-06:00", days: [sat, sun]}, action: lower, reason: weekend night}
""",
        )
    )
    ctx = Context({"team": "db", "alertname": "PgDown", "severity": "x"}, {}, "alertmanager", NIGHT)
    p, reasons = rules.apply("P4", ctx)
    # a: P4 -> P2; b: floor P2 keeps P2; g: weekend night lowers to P3.
    assert p == "P3"
    assert [r.split("'")[1] for r in reasons] == ["a", "b", "g"]
    day = datetime(2026, 11, 25, 12, tzinfo=UTC)  # a Wednesday noon
    assert rules.apply("P3", Context({"env": "dev"}, {}, "alertmanager", day)) == (
        "P5",
        [
            "rule 'c' (cap): qa [P3 -> P4]",
            "rule 'd' (lower): unlabelled [P4 -> P5]",
        ],
    )
    assert rules.apply("P3", Context({"severity": "x"}, {"summary": "data Loss"}, "x", day))[0] == "P1"


def test_bad_rules_name_key_and_expectation(tmp_path: Path) -> None:
    """Every mistake in a rules file is reported with its position and what was expected."""
    path = _rules(
        tmp_path,
        """
rules:
  - {name: a, action: set, reason: r}
  - {name: b, action: raise, priority: P1, reason: r}
  - {name: c, match: {labels_regex: {x: "("}}, action: lower, reason: r}
  - {name: d, match: {hours: "25:00-01:00"}, action: lower, reason: r}
  - {name: e, match: {days: [funday]}, action: lower, reason: r}
  - {name: f, action: explode, reason: r}
""",
    )
    with pytest.raises(RuleError) as info:
        load_rules(path)
    text = str(info.value)
    assert f"{path}: rules.0: action set needs priority" in text
    assert "rules.1: action raise takes steps" in text
    assert "rules.2.match.labels_regex: x: invalid regular expression" in text
    assert "rules.3.match.hours: expected HH:MM-HH:MM" in text
    assert "rules.4.match.days" in text
    assert "rules.5.action" in text
    assert len(info.value.problems) == 6


def test_score_explains_model_impact_rules_and_disagreement(tmp_path: Path) -> None:
    """A model-scored alert: urgency, impact, matrix cell and rules are all in the reasons."""
    rules = load_rules(REPO / "config" / "rules.yaml")
    labels = {"alertname": "KubeAPIDown", "env": "production", "severity": "warning"}
    pred = Pred("critical", {"critical": 0.9}, (("word:down", 1.4),))
    s = score(pred, labels, {}, "alertmanager", Blast(), ImpactPolicy(), rules, NIGHT)
    assert s.priority == "P1"
    assert s.disagrees_with_sender
    text = "\n".join(s.reasons)
    assert "model m1: urgency critical (p=0.90; word:down +1.40)" in text
    assert "the sender says severity=warning; the model disagrees" in text
    assert "impact high x urgency high -> P1" in text


def test_model_never_quietly_lowers_the_senders_severity() -> None:
    """A sender's critical stays critical when the model says warning, and both are explained."""
    rules = load_rules(REPO / "config" / "rules.yaml")
    pred = Pred("warning", {"warning": 0.6})
    s = score(pred, {"severity": "critical"}, {}, "x", Blast(), ImpactPolicy(), rules, NIGHT)
    assert (s.urgency, s.priority) == ("critical", "P2")
    assert "urgency critical: the sender's severity outranks the model" in s.reasons
    low = score(Pred("critical"), {"severity": "info"}, {}, "x", Blast(), ImpactPolicy(), rules, NIGHT)
    assert low.urgency == "critical"  # the model may raise urgency


def test_score_without_model_uses_the_label_or_a_default() -> None:
    """No model loaded: the severity label gives urgency; without it, warning; both say why."""
    rules = load_rules(REPO / "config" / "rules.yaml")
    s = score(None, {"severity": "critical"}, {}, "x", Blast(), ImpactPolicy(), rules, NIGHT)
    assert (s.priority, s.reasons[0]) == ("P2", "no model: urgency critical from severity=critical")
    s = score(None, {}, {}, "x", Blast(), ImpactPolicy(), rules, NIGHT)
    assert s.priority == "P3"
    assert "no severity label" in s.reasons[0]


def test_a_remembered_model_reason_belongs_to_its_own_prediction() -> None:
    """The model's line is remembered by prediction object: each prediction, made one
    after the other and dropped by the caller, still gets its own line."""
    rules = load_rules(REPO / "config" / "rules.yaml")
    lines = []
    for i in range(50):
        pred = Pred("critical", {"critical": i / 100}, ((f"word:w{i}", 1.0),))
        first = score(pred, {}, {}, "x", Blast(), ImpactPolicy(), rules, NIGHT).reasons[0]
        again = score(pred, {}, {}, "x", Blast(), ImpactPolicy(), rules, NIGHT).reasons[0]
        assert first == again == f"model m1: urgency critical (p={i / 100:.2f}; word:w{i} +1.00)"
        lines.append(first)
        del pred  # the caller's reference gone: only the cache could keep its id taken
    assert len(set(lines)) == 50


def test_a_rule_key_written_twice_is_refused_with_its_line(tmp_path: Path) -> None:
    """Two ``action:`` in one rule: YAML would keep the later one without a word."""
    path = _rules(tmp_path, "rules:\n  - name: a\n    action: lower\n    reason: r\n    action: raise\n")
    with pytest.raises(RuleError) as info:
        load_rules(path)
    assert info.value.problems == [
        f"{path}: line 5, column 5: invalid YAML: duplicate key 'action' (first at line 3); "
        "remove one: YAML would keep the later value without a word"
    ]
