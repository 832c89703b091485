"""Pure feature extraction: alert or rule fields -> one flat mapping the model pipeline reads.

Why it lives outside the persisted pipeline: skops only persists built-in
estimators, never custom functions, so everything that needs Python string
handling happens here, is unit-tested here, and is versioned by
``FEATURE_SCHEMA_VERSION`` (the loader refuses a model trained on another schema).

Every call returns the same keys (the ``COLUMNS`` below), so a batch becomes
one rectangular table without pandas.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

# Bump whenever a key, a token format or a default changes: a model trained on one
# schema reads garbage from another, so the loader compares this with the card.
FEATURE_SCHEMA_VERSION = "3"

TEXT_COLUMNS = ("name", "text", "lexicon", "expr_tokens")
CATEGORICAL_COLUMNS = ("severity", "cmp_op", "namespace", "job", "service", "env")
# The expression-derived columns, blanked together when an alert arrives without its PromQL.
EXPR_COLUMNS = ("expr_tokens", "cmp_op", "threshold_log10", "has_threshold")
NUMERIC_COLUMNS = (
    "for_seconds",
    "threshold_log10",
    "has_threshold",
    "repeat_count",
    "flap_count",
    "alert_rate",
    "incident_alerts",
    "incident_hosts",
    "incident_services",
)
# ``source`` is returned for traceability but the pipeline ignores it: catalogue names
# never match a live sender's name, so it could only learn catalogue conventions.
COLUMNS = (*TEXT_COLUMNS, *CATEGORICAL_COLUMNS, *NUMERIC_COLUMNS, "source")

HISTORY_KEYS = NUMERIC_COLUMNS[3:]
NONE = "none"

_TEMPLATE = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_WORD = re.compile(r"[a-z0-9]+")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|y|w|d|h|m|s)")
_DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_PROMQL_COMMENT = re.compile(r"#[^\n]*")
_PROMQL_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
# Label lists of grouping and matching clauses name labels, not metrics: drop them.
_PROMQL_CLAUSE = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.I)
_PROMQL_SELECTOR = re.compile(r"\{[^{}]*\}|\[[^\[\]]*\]")
# An identifier is a function when a "(" or an aggregation clause ("sum by (...)") follows.
_PROMQL_IDENT = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)(\s*\(|\s+(?:by|without)\b)?")
# The last comparison against a literal is, in alerting rules, almost always the threshold.
_PROMQL_COMPARISON = re.compile(r"(==|!=|>=|<=|>|<)\s*(?:bool\s+)?(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)", re.I)
_PROMQL_KEYWORDS = frozenset(
    [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "inf",
        "nan",
    ]
)
# Catalogues word urgency differently ("unreachable", "crashlooping", "SERVFAIL"), and a word
# one catalogue never uses gets no weight from a model trained on it. Grouping the words an
# SRE reads as the same kind of trouble into one token lets a weight learned on "down" also
# serve "offline" or "disappeared" in a catalogue the model never saw (cross-source
# macro-F1 0.46 -> 0.50 with the other changes of schema 2; see classifiers.model).
LEXICON: dict[str, str] = {
    "outage": (
        r"down|unreachable|unavailable|dead|crash\w*|fail\w*|errors?|lost|missing|absent|panic|fatal"
        r"|critical|outage|oom\w*|killed|exhausted|quorum|corrupt\w*|expired|disappeared|stopped"
        r"|offline|nodata|unhealthy|split|deadlock\w*|dropp\w*|rejected|timeouts?|refused|notready|broken"
    ),
    "strain": (
        r"high|slow|latency|warn\w*|degraded|increas\w*|approach\w*|nearing|near|almost|soon|will"
        r"|predict\w*|grow\w*|filling|pressure|throttl\w*|lag\w*|backlog|elevated|spike|usage"
        r"|utili[sz]ation|saturat\w*|long"
    ),
    "info": (
        r"restart\w*|reboot\w*|underutili[sz]\w*|changed?|info\w*|scal\w*|initializ\w*|relocat\w*"
        r"|uptime|version|low|idle|unused|recently"
    ),
    "full": r"full|out|exceed\w*|limit|max\w*|reached",
}
_LEXICON = {group: re.compile(rf"(?:{pattern})") for group, pattern in LEXICON.items()}
_ALERTNAME_QUALIFIER = re.compile(r"\(.*?\)")
_UP_IS_ZERO = re.compile(r"\bup\b[^=]*==\s*0\b")
_CMP_NAMES = {"==": "eq", "!=": "ne", ">=": "ge", "<=": "le", ">": "gt", "<": "lt"}
# Label keys whose value says where the alert fires; checked in order, first match wins.
_LABEL_SLOTS: dict[str, tuple[str, ...]] = {
    "namespace": ("namespace", "kubernetes_namespace"),
    "job": ("job",),
    "service": ("service", "app", "app_kubernetes_io_name"),
    "env": ("env", "environment", "cluster", "stage"),
}


def split_camel(name: str) -> list[str]:
    """``KubeAPIDown`` -> ``["kube", "api", "down"]``: alert names carry most of the meaning."""
    return [part.lower() for part in _CAMEL.findall(name)]


def strip_templates(text: str) -> str:
    """Remove Go templates (``{{ $labels.x }}``): they name placeholders, not what is wrong."""
    return _TEMPLATE.sub(" ", text)


def duration_seconds(value: str | None) -> float:
    """Prometheus duration (``1h30m``, ``5m``) in seconds; absent or unparsable means 0 (the default)."""
    if not value:
        return 0.0
    return float(sum(float(n) * _DURATION_SECONDS[unit] for n, unit in _DURATION.findall(value)))


def promql_tokens(expr: str) -> tuple[list[str], str, float | None]:
    """Metric, function and word tokens of a PromQL expression, its comparison and threshold.

    Returns ``(tokens, cmp_op, threshold)``; tokens look like ``m:up``, ``f:rate`` plus
    the words of each metric name, so ``node_filesystem_avail_bytes`` also matches
    other catalogues' filesystem alerts.
    """
    code = _PROMQL_STRING.sub(" ", _PROMQL_COMMENT.sub(" ", expr))
    shape = ["x:absent"] if "absent(" in code.lower() else []
    if _UP_IS_ZERO.search(code.lower()):
        shape.append("x:up_eq_0")
    outer = _PROMQL_CLAUSE.sub(r"\1 ", _PROMQL_SELECTOR.sub(" ", code))
    tokens: list[str] = []
    for match in _PROMQL_IDENT.finditer(outer):
        ident = match.group(1)
        if ident.lower() in _PROMQL_KEYWORDS:
            continue
        if match.group(2):
            tokens.append(f"f:{ident.lower()}")
        else:
            tokens.append(f"m:{ident.lower()}")
            tokens.extend(_WORD.findall(ident.lower().replace(":", "_").replace("_", " ")))
    tokens.extend(shape)
    comparisons = _PROMQL_COMPARISON.findall(outer)
    if not comparisons:
        return tokens, NONE, None
    op, number = comparisons[-1]
    tokens.append(f"op:{_CMP_NAMES[op]}")
    threshold = float(number)
    tokens.append("thr:zero" if threshold == 0 else "thr:nonzero")
    tokens.append(threshold_bucket(_CMP_NAMES[op], threshold))
    return tokens, _CMP_NAMES[op], threshold


def lexicon_tokens(words: list[str], prefix: str) -> list[str]:
    """``["api", "unreachable"]`` -> ``["n:outage"]``: a token per word in a ``LEXICON`` group."""
    return [f"{prefix}:{group}" for word in words for group in _lexicon_groups(word)]


@functools.lru_cache(maxsize=8192)
def _lexicon_groups(word: str) -> tuple[str, ...]:
    """Groups of one word, cached: alert vocabularies are small, and scoring runs per alert."""
    return tuple(group for group, rx in _LEXICON.items() if rx.fullmatch(word))


def threshold_bucket(cmp_op: str, threshold: float) -> str:
    """Coarse size of a threshold, read as a percentage when it can be one (0.9 and 90 both "ge90").

    Tiered rules differ mostly here (warning at 80 %, critical at 95 %), and a bucket
    generalises across catalogues where the raw number's log would not.
    """
    value = abs(threshold)
    if value == 0:
        return "thrb:zero"
    if value > 100:
        return f"thrb:{cmp_op}_big"
    pct = value * 100 if value <= 1 else value
    for floor, name in ((95, "ge95"), (90, "ge90"), (80, "ge80"), (50, "ge50")):
        if pct >= floor:
            return f"thrb:{cmp_op}_{name}"
    return f"thrb:{cmp_op}_lt50"


def _label_value(labels: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = labels.get(key)
        if value:
            return str(value).lower()
    return NONE


def _number(value: Any) -> float:
    if value is None:  # a live alert's absent history: a raised and caught TypeError costs ~0.7 us
        return 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) and number > 0 else 0.0


def to_features(fields: Mapping[str, Any]) -> dict[str, float | str]:
    """Map alert fields to the model's flat feature mapping (always the keys of ``COLUMNS``).

    ``fields``: ``alertname``, ``labels``, ``annotations`` (summary/description),
    ``expr`` (PromQL, may be empty), ``source``, optional ``for`` and history counts.
    The ``severity`` label becomes its own categorical feature and never enters the
    label text, so the model can be trained with it absent (see ``classifiers.train``).
    """
    labels: Mapping[str, Any] = fields.get("labels") or {}
    annotations: Mapping[str, Any] = fields.get("annotations") or {}
    name_words = list(_name_words(str(fields.get("alertname") or labels.get("alertname") or "")))
    prose: list[str] = []
    for key in ("summary", "description"):
        prose.extend(_prose_words(str(annotations.get(key) or "")))
    words = [*name_words, *prose]
    for key, value in labels.items():
        if key in ("severity", "alertname"):
            continue
        words.extend(_label_words(str(key), str(value)))
    tokens, cmp_op, threshold = _promql(str(fields.get("expr") or ""))
    categorical = {
        "severity": str(labels.get("severity") or NONE).lower(),
        "cmp_op": cmp_op,
        **{slot: _label_value(labels, keys) for slot, keys in _LABEL_SLOTS.items()},
    }
    features: dict[str, float | str] = {
        # The name on its own too: it is the densest signal, and in "text" a long
        # description would dilute it under TF-IDF's length normalisation.
        "name": " ".join(name_words),
        "text": " ".join(words),
        "lexicon": " ".join(lexicon_tokens(name_words, "n") + lexicon_tokens(prose, "t")),
        "expr_tokens": tokens,
        **categorical,
        "for_seconds": duration_seconds(fields.get("for")),
        # Magnitude, not value: "> 0.9" and "> 90" (percent) are both "high", "== 0" is "down".
        "threshold_log10": math.log10(abs(threshold) + 1e-3) if threshold is not None else 0.0,
        "has_threshold": 0.0 if threshold is None else 1.0,
        **{key: _number(fields.get(key)) for key in HISTORY_KEYS},
        "source": str(fields.get("source") or NONE),
    }
    return features


# The caches below hold pure functions of one string each. A live alert repeats its rule's
# name, expression and most label pairs, and the daemon scores every new alert, so these
# keep feature extraction to a few dictionary lookups (bounded: LRU).
@functools.lru_cache(maxsize=4096)
def _name_words(alertname: str) -> tuple[str, ...]:
    # "CassandraClientRequestUnavailableRead(Instaclustr)": the qualifier names a vendor, not urgency.
    return tuple(split_camel(_ALERTNAME_QUALIFIER.sub(" ", alertname)))


@functools.lru_cache(maxsize=16384)
def _prose_words(text: str) -> tuple[str, ...]:
    # Numbers are left out (schema 3): in a live alert they are mostly rendered sample
    # values ("{{ $value }}" -> "12.5"), which catalogue rules, with their templates
    # stripped, never had; the threshold comes from the expression instead. With them,
    # two instances of one rule differ in model input only by their sample values.
    return tuple(w for w in _WORD.findall(strip_templates(text).lower()) if not w.isdigit())


@functools.lru_cache(maxsize=65536)
def _label_words(key: str, value: str) -> tuple[str, str]:
    slug = _slug(key)
    return f"label_{slug}", f"label_{slug}_{_slug(value)}"


@functools.lru_cache(maxsize=4096)
def _promql(expr: str) -> tuple[str, str, float | None]:
    tokens, cmp_op, threshold = promql_tokens(expr)
    return " ".join(tokens), cmp_op, threshold


def _slug(text: str) -> str:
    return "_".join(_WORD.findall(text.lower())) or "empty"


def fields_from_rule(row: Mapping[str, Any], *, with_severity: bool = False) -> dict[str, Any]:
    """One alert-rules JSONL row -> the fields ``to_features`` reads.

    The rule's severity is what we learn to predict, so it is left out of the labels
    unless ``with_severity`` asks for it (only for experiments: training on it is leakage).
    """
    labels = {k: v for k, v in (row.get("labels") or {}).items() if k != "severity"}
    if with_severity and row.get("severity"):
        labels["severity"] = row["severity"]
    return {
        "alertname": row.get("alertname") or "",
        "labels": labels,
        "annotations": {"summary": row.get("summary") or "", "description": row.get("description") or ""},
        "expr": row.get("expr") or "",
        "for": row.get("for"),
        "source": row.get("source") or NONE,
    }


@functools.lru_cache(maxsize=4096)
def expr_from_generator_url(generator_url: str | None) -> str:
    """The PromQL in a Prometheus ``generatorURL`` (``/graph?g0.expr=...``), URL-decoded; else ``""``."""
    if not generator_url:
        return ""
    values = parse_qs(urlsplit(generator_url).query).get("g0.expr")
    return values[0] if values else ""


def fields_from_alert(
    labels: Mapping[str, Any],
    annotations: Mapping[str, Any],
    generator_url: str | None,
    source: str,
    **history: float,
) -> dict[str, Any]:
    """A live alert (Alertmanager shape) -> the fields ``to_features`` reads.

    A live alert has no ``for`` (Alertmanager does not send it), so that feature is 0;
    history counts (``repeat_count``, ...) pass through as keyword arguments.
    """
    return {
        "alertname": str(labels.get("alertname") or ""),
        "labels": dict(labels),
        "annotations": dict(annotations),
        "expr": expr_from_generator_url(generator_url),
        "source": source,
        **{key: value for key, value in history.items() if key in HISTORY_KEYS},
    }
